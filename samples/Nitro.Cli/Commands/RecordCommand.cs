using System.CommandLine;
using System.Globalization;
using Nitro.Cli.Live;
using Nitro.Reactive.Export;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro record --kernel PATH --initrd PATH [--out FILE]</c>: like <c>trace</c>, into the binary trace format.</summary>
internal static class RecordCommand
{
    public static Command Create(CliConsole console)
    {
        var live = new LiveCommandOptions();
        var output = new Option<FileInfo?>("--out", "-o") { Description = "The trace file to write (default: nitro-<UTC time>.nitrotrace in the current directory)" };
        var command = new Command("record", "Boots a guest under QEMU (or starts a machine) and records its system calls into a .nitrotrace file until it powers off");
        live.AddTo(command);
        command.Options.Add(output);
        command.SetAction((result, cancellationToken) =>
        {
            var file = result.GetValue(output)
                ?? new FileInfo(string.Create(CultureInfo.InvariantCulture, $"nitro-{DateTime.UtcNow:yyyyMMdd-HHmmss}.nitrotrace"));
            return RunAsync(console, live.ToRequest(result), file, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, LiveRequest request, FileInfo output, CancellationToken cancellationToken)
    {
        if (output.Directory is { Exists: false } directory)
        {
            await console.Error.WriteLineAsync($"nitro: the directory '{directory.FullName}' of --out does not exist; create it or choose another file.");
            return NitroCommand.FileNotFound;
        }

        var recorder = new Recorder(output.FullName, request.Session.Vcpus);
        int code;
        try
        {
            code = await LiveRun.RunAsync(console, request, recorder, cancellationToken);
        }
        finally
        {
            // Also when cancelled before the listener attached: the file ends with a proper end record.
            await recorder.CompleteAsync(LiveOutcome.Interrupted);
        }

        if (recorder.Writer is { } writer)
        {
            await console.Error.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"nitro: recorded {writer.SyscallCount} calls ({writer.EventCount} events, {new FileInfo(output.FullName).Length:N0} bytes) to {output.FullName}"));
        }

        return code;
    }

    private sealed class Recorder(string path, int vcpus) : LiveHandler
    {
        public TraceWriter? Writer { get; private set; }

        public override IObservable<Syscall> Shape(LiveSession session, IObservable<Syscall> calls)
        {
            // One origin for both fields, so that replayed timestamps convert to the wall clock of the recording.
            var origin = TimeOrigin.Now();
            Writer = TraceWriter.Create(path, new TraceWriterOptions
            {
                Os = session.Os,
                Kernel = session.Kernel,
                Vcpus = vcpus,
                Source = session.Listener is Nitro.Kvm.Plugin.PluginListener ? "qemu-plugin" : "qemu-gdbstub",
                CreatedUtc = origin.WallClock,
                MonotonicOrigin = origin.MonotonicNanoseconds,
            });
            return calls.RecordTo(Writer);
        }

        public override void OnCall(Syscall call)
        {
        }

        public override async ValueTask CompleteAsync(LiveOutcome outcome)
        {
            if (Writer is not null)
            {
                await Writer.DisposeAsync();
            }
        }
    }
}
