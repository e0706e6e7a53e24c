using System.Diagnostics;
using System.Globalization;
using Nitro.Cli.Live;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Tracing;
using Nitro.Tests.Shared;

namespace Nitro.Benchmarks.Live;

/// <summary>
/// Measures live tracing on the bundled guest under QEMU, side by side in one run: the guest
/// workload's wall time untraced, fully traced and filtered to two calls it makes rarely, traps per
/// second and the host CPU time per trap — for the gdbstub listener and the trap plugin (synchronous
/// and streaming), with 1 or more vCPUs, on the bundled workload and a syscall-dense one
/// (<c>dd bs=1</c>: two calls per byte).
/// Run: <c>dotnet run -c Release --project benchmarks/Nitro.Benchmarks -- live [--runs N] [--vcpus 1,2]
/// [--listeners gdbstub,plugin,stream] [--workloads bundled,dd] [--dd-count N] [--gdbstub-dd-count N] [--plugin-spin N] [--host-spin N]</c>.
/// </summary>
internal static class LiveHarness
{
    // Busybox commands that make a few hundred system calls each round.
    private const string Bundled = "for i in 1 2 3 4 5 6 7 8 9 10; do cat /etc/passwd > /dev/null; ls / > /dev/null; echo x > /tmp/f; done";

    private static (int Plugin, int Host) s_spins;

    private static readonly string[] s_rare = ["connect", "unlink"]; // requested, but never or rarely called by the workloads

    public static async Task<int> RunAsync(string[] args)
    {
        if (Parse(args) is not { } settings)
        {
            return 2;
        }

        var (runs, vcpuCounts, listeners, workloads, ddCount, gdbDdCount) = settings;
        var (kernel, initrd) = TestGuest.Default;
        Console.WriteLine($"load at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"{"workload",-10} {"vcpus",5} {"listener",-8} {"mode",-17} {"run",3} {"guest s",8} {"calls",8} {"traps",8} {"traps/s",9} {"CPU µs/trap",11} {"lost",5}");
        var medians = new List<(string Key, double Seconds, double TrapsPerSecond, double CpuPerTrap)>();
        foreach (var workload in workloads)
        {
            foreach (var vcpus in vcpuCounts)
            {
                var untraced = await MedianAsync(kernel, initrd, workload, ddCount, vcpus, "gdbstub", "untraced", runs, medians);
                foreach (var listener in listeners)
                {
                    var count = listener is "gdbstub" ? Math.Min(ddCount, gdbDdCount) : ddCount;
                    var baseline = count == ddCount || workload is not "dd" ? untraced : await MedianAsync(kernel, initrd, workload, count, vcpus, "gdbstub", "untraced", runs, medians);
                    foreach (var mode in new[] { "full", "filtered-rare" })
                    {
                        var seconds = await MedianAsync(kernel, initrd, workload, count, vcpus, listener, mode, runs, medians);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  => {workload}{(workload is "dd" ? $"({count})" : string.Empty)} {vcpus} vCPU {listener} {mode}: traced ÷ untraced = {seconds / baseline:0.00}"));
                    }
                }
            }
        }

        Console.WriteLine($"load at end: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static Settings? Parse(string[] args)
    {
        var runs = 3;
        int[] vcpuCounts = [1];
        string[] listeners = ["gdbstub", "plugin", "stream"];
        string[] workloads = ["bundled", "dd"];
        var ddCount = 200_000;
        var gdbDdCount = 2_000;
        var defaults = new PluginListenerOptions();
        var (pluginSpin, hostSpin) = (defaults.PluginSpin, defaults.HostSpin);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length)
            {
                Fail(args[i]);
                return null;
            }

            var value = args[i + 1];
            switch (args[i])
            {
                case "--runs": runs = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--vcpus": vcpuCounts = [.. value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))]; break;
                case "--listeners": listeners = value.Split(','); break;
                case "--workloads": workloads = value.Split(','); break;
                case "--dd-count": ddCount = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--gdbstub-dd-count": gdbDdCount = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--plugin-spin": pluginSpin = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--host-spin": hostSpin = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: Fail(args[i]); return null;
            }
        }

        s_spins = (pluginSpin, hostSpin);
        Console.WriteLine($"plugin spin {pluginSpin}, host spin {hostSpin}");
        return new Settings(runs, vcpuCounts, listeners, workloads, ddCount, gdbDdCount);
    }

    private sealed record Settings(int Runs, int[] VcpuCounts, string[] Listeners, string[] Workloads, int DdCount, int GdbDdCount);

    private static int Fail(string option)
    {
        Console.Error.WriteLine($"live: unknown option or missing value '{option}' (--runs N, --vcpus 1,2, --listeners gdbstub,plugin,stream, --workloads bundled,dd, --dd-count N, --gdbstub-dd-count N, --plugin-spin N, --host-spin N)");
        return 2;
    }

    private static async Task<double> MedianAsync(string kernel, string initrd, string workload, int ddCount, int vcpus, string listener, string mode, int runs, List<(string, double, double, double)> medians)
    {
        var results = new List<(double Seconds, double TrapsPerSecond, double CpuPerTrap)>();
        for (var run = 0; run < runs; run++)
        {
            results.Add(await MeasureAsync(kernel, initrd, workload, ddCount, vcpus, listener, mode, run));
        }

        var median = results.OrderBy(r => r.Seconds).ElementAt(results.Count / 2);
        medians.Add(($"{workload} {vcpus} {listener} {mode}", median.Seconds, median.TrapsPerSecond, median.CpuPerTrap));
        return median.Seconds;
    }

    private static async Task<(double Seconds, double TrapsPerSecond, double CpuPerTrap)> MeasureAsync(string kernel, string initrd, string workload, int ddCount, int vcpus, string listener, string mode, int run)
    {
        var script = workload is "dd" ? $"dd if=/dev/zero of=/dev/null bs=1 count={ddCount}" : Bundled;
        var options = new LiveSessionOptions
        {
            Kernel = kernel,
            Initrd = initrd,
            Append = $"quiet panic=-1 nitro.workload=\"{script}\"",
            Vcpus = vcpus,
            Listener = listener is "gdbstub" ? ListenerChoice.GdbStub : ListenerChoice.Plugin,
            Plugin = new PluginListenerOptions
            {
                Mode = listener is "stream" ? PluginDeliveryMode.Streaming : PluginDeliveryMode.Synchronous,
                PluginSpin = s_spins.Plugin,
                HostSpin = s_spins.Host,
            },
        };
        await using var session = await LiveSession.StartAsync(options, CancellationToken.None);
        var calls = 0L;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IDisposable? subscription = null;
        if (mode is not "untraced")
        {
            subscription = session.Syscalls(mode is "full" ? null : s_rare).Subscribe(_ => calls++, ex => done.TrySetException(ex), () => done.TrySetResult());
            await session.WaitUntilAttachedAsync();
        }
        else
        {
            // Connecting the gdbstub paused the guest; without a listener nobody resumes it.
            await session.Target.ResumeAsync(CancellationToken.None);
        }

        var startLine = session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-START", TimeSpan.FromMinutes(30));
        var endLine = session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", TimeSpan.FromMinutes(30));
        await session.ReleaseWorkloadAsync();
        await startLine;
        var (trapsBefore, _) = Traps(session);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await endLine;
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var (trapsAfter, lost) = Traps(session);
        subscription?.Dispose();
        var traps = trapsAfter - trapsBefore;
        var cpuPerTrap = traps == 0 ? 0 : cpu.TotalMicroseconds / traps;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{workload,-10} {vcpus,5} {listener,-8} {mode,-17} {run,3} {seconds,8:0.000} {calls,8} {traps,8} {traps / seconds,9:0} {cpuPerTrap,11:0.0} {lost,5}"));
        return (seconds, traps / seconds, cpuPerTrap);
    }

    /// <summary>Traps that reached the host: breakpoint stops (gdbstub) or forwarded callbacks (plugin), and events the plugin lost.</summary>
    private static (long Traps, long Lost) Traps(LiveSession session) => session.Listener switch
    {
        GdbStubListener gdb => (gdb.Statistics.Traps, 0),
        PluginListener plugin => (plugin.Statistics.Forwarded, plugin.Statistics.Lost),
        _ => (0, 0),
    };
}
