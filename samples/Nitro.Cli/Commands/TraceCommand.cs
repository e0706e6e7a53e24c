using System.CommandLine;
using System.Globalization;
using Nitro.Backends.Linux.Profile;
using Nitro.Cli.Live;
using Nitro.Cli.Output;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Qemu;
using Nitro.Reactive.Export;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro trace --kernel PATH --initrd PATH …</c>: boots a guest under QEMU and streams its system calls.</summary>
internal static class TraceCommand
{
    public static Command Create(CliConsole console)
    {
        var kernel = new Option<FileInfo>("--kernel") { Description = "Guest kernel image (bzImage)", Required = true };
        var initrd = new Option<FileInfo?>("--initrd") { Description = "Guest initramfs" };
        var append = new Option<string?>("--append") { Description = "Extra kernel command line" };
        var syscall = new Option<string[]>("--syscall", "-s")
        {
            Description = "Trap only these system calls (comma-separated); unrequested calls do not stop the guest",
            AllowMultipleArgumentsPerToken = true,
        };
        var process = new Option<string?>("--process", "-p") { Description = "Only calls of this process (a name, or a pid)" };
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write to this file instead of standard output" };
        var timeout = new Option<int>("--timeout") { Description = "Stop after this many seconds", DefaultValueFactory = _ => 300 };
        var vcpus = new Option<int>("--vcpus") { Description = "Number of vCPUs", DefaultValueFactory = _ => 1 };
        var noWait = new Option<bool>("--no-wait") { Description = "The guest has no nitro.wait support: attach once its kernel is up" };

        var command = new Command("trace", "Boots a Linux guest under QEMU and streams its system calls until it powers off")
        {
            kernel, initrd, append, syscall, process, format, output, timeout, vcpus, noWait,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var request = new TraceRequest(
                new LiveSessionOptions
                {
                    Kernel = result.GetValue(kernel)!.FullName,
                    Initrd = result.GetValue(initrd)?.FullName,
                    Append = result.GetValue(append),
                    Vcpus = result.GetValue(vcpus),
                    WaitMarker = result.GetValue(noWait) ? null : "NITRO-WAITING",
                },
                SplitNames(result.GetValue(syscall)),
                result.GetValue(process),
                result.GetValue(format)!,
                result.GetValue(output),
                TimeSpan.FromSeconds(result.GetValue(timeout)));
            return RunAsync(console, request, cancellationToken);
        });
        return command;
    }

    internal static string[] SplitNames(string[]? values) =>
        (values ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    internal static async Task<int> RunAsync(CliConsole console, TraceRequest request, CancellationToken cancellationToken)
    {
        if (!File.Exists(request.Session.Kernel))
        {
            await console.Error.WriteLineAsync($"nitro: kernel image '{request.Session.Kernel}' does not exist (guest/build.sh builds the bundled one).");
            return NitroCommand.FileNotFound;
        }

        LiveLinuxSession session;
        try
        {
            session = await LiveLinuxSession.StartAsync(request.Session, cancellationToken);
        }
        catch (Exception ex) when (ex is QemuException or ProfileException or TimeoutException or GdbTargetLostException or Nitro.Kvm.GdbStub.GdbStubException)
        {
            await console.Error.WriteLineAsync($"nitro: could not start tracing: {ex.Message}");
            return NitroCommand.Failure;
        }

        await using (session)
        {
            return await StreamAsync(console, session, request, cancellationToken);
        }
    }

    private static async Task<int> StreamAsync(CliConsole console, LiveLinuxSession session, TraceRequest request, CancellationToken cancellationToken)
    {
        IObservable<Syscall> calls;
        try
        {
            calls = session.Syscalls(request.Syscalls.Length == 0 ? null : request.Syscalls);
        }
        catch (Exception ex) when (ex is ArgumentException or ProfileException)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.UsageError;
        }

        if (request.Process is { } process)
        {
            calls = int.TryParse(process, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? calls.WhereProcess(pid) : calls.WhereProcess(process);
        }

        // Declared before the sink so that it is disposed after it.
        await using var file = request.Output is null ? null : new StreamWriter(request.Output.FullName);
        var writer = file ?? console.Out;
        var origin = TimeOrigin.Now();
        using var sink = string.Equals(request.Format, "jsonl", StringComparison.Ordinal)
            ? (ISyscallSink)new JsonLinesSink(new JsonLinesWriter(writer, origin, leaveOpen: true))
            : new SyscallTable(writer, origin);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long count = 0;
        using (calls.Subscribe(
            call =>
            {
                sink.Write(call);
                count++;
            },
            ex => done.TrySetException(ex),
            () => done.TrySetResult()))
        {
            await session.Listener.WaitUntilAttachedAsync(cancellationToken);
            await session.ReleaseWorkloadAsync();
            var finished = await Task.WhenAny(done.Task, Task.Delay(request.Timeout, cancellationToken));
            if (finished != done.Task)
            {
                await console.Error.WriteLineAsync($"nitro: stopping after {request.Timeout.TotalSeconds:0} s (the guest was still running).");
            }
            else if (done.Task.Exception is { } failure)
            {
                sink.Flush();
                await console.Error.WriteLineAsync($"nitro: tracing failed: {failure.InnerException?.Message}");
                return NitroCommand.Failure;
            }
        }

        sink.Flush();
        var stats = session.Listener.Statistics;
        var perTrap = Math.Max(stats.Traps, 1);
        await console.Error.WriteLineAsync(string.Create(
            CultureInfo.InvariantCulture,
            $"nitro: {count} calls from {stats.Traps} traps ({stats.OtherStops} other stops); per trap: guest running {(stats.GuestRunning / perTrap).TotalMicroseconds:0} µs, registers {(stats.ReadingRegisters / perTrap).TotalMicroseconds:0} µs, observers {(stats.Observers / perTrap).TotalMicroseconds:0} µs, resuming {(stats.Resuming / perTrap).TotalMicroseconds:0} µs; exit arming changes {stats.ExitArmings}; profile {session.ProfileTime.TotalMilliseconds:0} ms"));
        return NitroCommand.Ok;
    }
}

/// <summary>What <c>nitro trace</c> was asked to do.</summary>
internal sealed record TraceRequest(LiveSessionOptions Session, string[] Syscalls, string? Process, string Format, FileInfo? Output, TimeSpan Timeout);
