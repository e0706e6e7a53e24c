using System.Diagnostics;
using System.Globalization;
using Nitro.Cli.Live;
using Nitro.Tests.Shared;

namespace Nitro.Benchmarks.Live;

/// <summary>
/// Measures live tracing on the bundled guest under QEMU: the guest workload's wall time untraced,
/// fully traced and filtered to two calls, traps per second, and the host CPU time per trap.
/// Run: <c>dotnet run -c Release --project benchmarks/Nitro.Benchmarks -- live [--runs N] [--vcpus N] [--parallel]</c>;
/// <c>--vcpus</c> boots the guest with that many vCPUs, <c>--parallel</c> runs two copies of the
/// workload at once (so that a second vCPU has something to do).
/// </summary>
internal static class LiveHarness
{
    // Busybox commands that make a few hundred system calls each round.
    private const string Workload = "for i in 1 2 3 4 5 6 7 8 9 10; do cat /etc/passwd > /dev/null; ls / > /dev/null; echo x > /tmp/f; done";

    public static async Task<int> RunAsync(string[] args)
    {
        var runs = 3;
        var vcpus = 1;
        var parallel = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--runs" when i + 1 < args.Length:
                    runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--vcpus" when i + 1 < args.Length:
                    vcpus = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--parallel":
                    parallel = true;
                    break;
                default:
                    Console.Error.WriteLine($"live: unknown option '{args[i]}' (--runs N, --vcpus N, --parallel)");
                    return 2;
            }
        }

        var (kernel, initrd) = TestGuest.Default;
        var workload = parallel ? $"( {Workload} ) & ( {Workload} ) & wait" : Workload;
        var append = $"quiet panic=-1 nitro.workload=\"{workload}\"";
        Console.WriteLine($"workload: {workload}");
        Console.WriteLine($"vCPUs: {vcpus}");
        Console.WriteLine($"{"mode",-22} {"run",3} {"workload s",10} {"calls",6} {"traps",6} {"traps/s",8} {"host µs/trap",12} {"(read",6} {"obs",5} {"resume)",7} {"CPU µs/trap",11} {"calls on vCPU>0",15}");

        var results = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        foreach (var (mode, syscalls) in new (string, string[]?)[]
            {
                ("untraced", []),
                ("full", null),
                ("filtered openat,write", ["openat", "write"]),
                ("filtered connect,unlink", ["connect", "unlink"]), // requested but never called by the workload
            })
        {
            for (var run = 0; run < runs; run++)
            {
                var seconds = await MeasureAsync(kernel, initrd, append, vcpus, mode, syscalls, run);
                if (!results.TryGetValue(mode, out var list))
                {
                    results[mode] = list = [];
                }

                list.Add(seconds);
            }
        }

        var untraced = Median(results["untraced"]);
        Console.WriteLine();
        foreach (var (mode, list) in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode,-22} median {Median(list),7:0.000} s   traced ÷ untraced = {Median(list) / untraced,6:0.00}"));
        }

        return 0;
    }

    private static async Task<double> MeasureAsync(string kernel, string initrd, string append, int vcpus, string mode, string[]? syscalls, int run)
    {
        await using var session = await LiveLinuxSession.StartAsync(new LiveSessionOptions { Kernel = kernel, Initrd = initrd, Append = append, Vcpus = vcpus }, CancellationToken.None);
        var calls = 0L;
        var otherVcpus = 0L;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IDisposable? subscription = null;
        if (syscalls is null || syscalls.Length > 0)
        {
            subscription = session.Syscalls(syscalls).Subscribe(c =>
            {
                calls++;
                if (c.Vcpu > 0)
                {
                    otherVcpus++;
                }
            }, ex => done.TrySetException(ex), () => done.TrySetResult());
            await session.Listener.WaitUntilAttachedAsync();
        }
        else
        {
            // Connecting the gdbstub paused the guest; without a listener nobody resumes it.
            await session.Target.ResumeAsync(CancellationToken.None);
        }

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var startLine = session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-START", TimeSpan.FromMinutes(10));
        var endLine = session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", TimeSpan.FromMinutes(10));
        await session.ReleaseWorkloadAsync();
        await startLine;
        var clock = Stopwatch.StartNew();
        await endLine;
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        subscription?.Dispose();
        var stats = session.Listener.Statistics;
        var traps = Math.Max(stats.Traps, 1);
        var hostPerTrap = (stats.ReadingRegisters + stats.Observers + stats.Resuming).TotalMicroseconds / traps;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{mode,-22} {run,3} {seconds,10:0.000} {calls,6} {stats.Traps,6} {stats.Traps / seconds,8:0} {(stats.Traps == 0 ? 0 : hostPerTrap),12:0} {stats.ReadingRegisters.TotalMicroseconds / traps,6:0} {stats.Observers.TotalMicroseconds / traps,5:0} {stats.Resuming.TotalMicroseconds / traps,7:0} {(stats.Traps == 0 ? 0 : cpu.TotalMicroseconds / traps),11:0} {otherVcpus,15}"));
        return seconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
