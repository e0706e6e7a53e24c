using System.CommandLine;
using System.Reactive.Concurrency;
using Nitro.Cli.Live;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Demo;

/// <summary>
/// <c>nitro demo [--replay]</c>: builds and boots the bundled guest, traces every call live and shows
/// the counts as they happen; with --replay (or without QEMU) it replays the bundled trace instead.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliConsole console)
    {
        var live = new LiveCommandOptions();
        var replay = new Option<bool>("--replay") { Description = "Replay the bundled trace (samples/traces/demo.nitrotrace) instead of booting a guest; no QEMU needed" };
        var trace = new Option<FileInfo?>("--trace") { Description = "With --replay: this trace instead of the bundled one" };
        var speed = new Option<double>("--speed")
        {
            Description = "With --replay on a terminal: replay speed (1 = as recorded, 0 = as fast as possible; always as fast as possible when not a terminal)",
            DefaultValueFactory = _ => 1.0,
        };
        var command = new Command("demo", "Live demo: boots the bundled guest, traces every system call and shows the counts as they happen") { replay, trace, speed };
        live.AddTo(command, withGuest: false);
        command.SetAction((result, cancellationToken) =>
        {
            var timeout = TimeSpan.FromSeconds(result.GetValue(live.Timeout));
            var file = result.GetValue(trace);
            if (result.GetValue(replay) || file is not null)
            {
                return ReplayAsync(console, file?.FullName, result.GetValue(speed), timeout, cancellationToken);
            }

            var session = new LiveSessionOptions { Kernel = string.Empty, Vcpus = result.GetValue(live.Vcpus), BootTimeout = TimeSpan.FromSeconds(result.GetValue(live.BootTimeout)), Listener = live.ListenerOf(result), Plugin = new Nitro.Kvm.Plugin.PluginListenerOptions { Mode = live.PluginModeOf(result) } };
            return LiveAsync(console, session, result.GetValue(speed), timeout, cancellationToken);
        });
        return command;
    }

    private static async Task<int> LiveAsync(CliConsole console, LiveSessionOptions session, double speed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!BundledGuest.QemuAvailable())
        {
            await console.Error.WriteLineAsync("nitro: qemu-system-x86_64 is not installed (scripts/demo.sh installs it); replaying the bundled trace instead.");
            return await ReplayAsync(console, null, speed, timeout, cancellationToken);
        }

        await console.Error.WriteLineAsync("nitro: building the bundled guest (guest/build.sh)…");
        (string Kernel, string Initrd) guest;
        try
        {
            guest = await BundledGuest.BuildAsync(cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.Failure;
        }

        await console.Error.WriteLineAsync($"nitro: booting {guest.Kernel} under QEMU and attaching…");
        var request = new LiveRequest(session with { Kernel = guest.Kernel, Initrd = guest.Initrd }, [], timeout);
        var handler = new DemoHandler(console);
        var code = await LiveRun.RunAsync(console, request, handler, cancellationToken);
        handler.View?.WriteSummary(handler.Outcome);
        return code;
    }

    private static async Task<int> ReplayAsync(CliConsole console, string? path, double speed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        path ??= BundledGuest.Trace();
        if (path is null || !File.Exists(path))
        {
            await console.Error.WriteLineAsync($"nitro: trace file '{path ?? "samples/traces/demo.nitrotrace"}' does not exist (run the demo from a clone of the repository, or pass --trace FILE).");
            return NitroCommand.FileNotFound;
        }

        if (!(speed >= 0 && double.IsFinite(speed)))
        {
            await console.Error.WriteLineAsync($"nitro: --speed must be 0 (as fast as possible) or a positive factor, not {speed}.");
            return NitroCommand.UsageError;
        }

        string kernel;
        try
        {
            await using var reader = TraceReader.OpenFile(path);
            var header = await reader.ReadHeaderAsync(cancellationToken);
            kernel = header.Metadata.GetValueOrDefault("kernel") ?? "unknown kernel";
        }
        catch (TraceFormatException ex)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.DamagedTrace;
        }

        var options = console.IsTerminal && speed > 0 ? ReplayOptions.Timed(DefaultScheduler.Instance, speed) : null;
        var counters = new DemoCounters();
        var view = new DemoView(console, counters, static () => default, "replay of " + Path.GetFileName(path));
        await console.Error.WriteLineAsync($"nitro: replaying {path} ({kernel})");
        string outcome;
        using (var stop = new CancellationTokenSource())
        {
            var showing = view.ShowAsync(stop.Token);
            using (TraceReplay.Syscalls(path, options).Subscribe(counters))
            {
                try
                {
                    var finished = await Task.WhenAny(counters.Done, Task.Delay(timeout, cancellationToken));
                    outcome = finished == counters.Done ? "end of trace"
                        : cancellationToken.IsCancellationRequested ? "interrupted (Ctrl+C)"
                        : $"--timeout of {timeout.TotalSeconds:0} s";
                }
                finally
                {
                    await stop.CancelAsync();
                    await showing;
                }
            }
        }

        view.WriteSummary(outcome);
        if (counters.Done is { IsFaulted: true, Exception: { } failure })
        {
            await console.Error.WriteLineAsync($"nitro: {failure.InnerException?.Message}");
            return failure.InnerException is TraceFormatException ? NitroCommand.DamagedTrace : NitroCommand.Failure;
        }

        return NitroCommand.Ok;
    }

    private sealed class DemoHandler(CliConsole console) : LiveHandler
    {
        private readonly DemoCounters _counters = new();

        public DemoView? View { get; private set; }

        public string Outcome { get; private set; } = "not started";

        public override void OnCall(Syscall call) => _counters.Add(call);

        public override Task WhileTracingAsync(LiveSession session, CancellationToken stop)
        {
            View = new DemoView(console, _counters, () => Gauges(session), "live: " + session.Kernel.Split(' ', 4) switch
            {
                [_, _, var release, ..] => "Linux " + release,
                _ => "Linux guest",
            });
            return View.ShowAsync(stop);
        }

        public override ValueTask CompleteAsync(LiveOutcome outcome)
        {
            Outcome = outcome switch
            {
                LiveOutcome.Completed => "the guest powered off",
                LiveOutcome.TimedOut => "--timeout",
                _ => "interrupted (Ctrl+C)",
            };
            return ValueTask.CompletedTask;
        }

        private static DemoGauges Gauges(LiveSession session)
        {
            var backend = session.Backend.Statistics.Snapshot();
            return new DemoGauges(session.Traps, backend.Events, backend.MemoryErrors, backend.Dropped);
        }
    }
}
