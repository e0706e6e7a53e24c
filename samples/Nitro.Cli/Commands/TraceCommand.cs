using System.CommandLine;
using Nitro.Cli.Live;
using Nitro.Cli.Output;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro trace --kernel PATH --initrd PATH …</c>: boots a guest under QEMU and streams its system calls.</summary>
internal static class TraceCommand
{
    public static Command Create(CliConsole console)
    {
        var live = new LiveCommandOptions();
        var process = new Option<string?>("--process", "-p") { Description = "Only calls of this process (a name, or a pid)" };
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");
        var output = new Option<FileInfo?>("--out", "-o") { Description = "Write to this file instead of standard output" };

        var command = new Command("trace", "Boots a guest under QEMU (or starts a machine) and streams its system calls until it powers off");
        live.AddTo(command);
        command.Options.Add(process);
        command.Options.Add(format);
        command.Options.Add(output);
        command.SetAction((result, cancellationToken) => RunAsync(
            console,
            live.ToRequest(result),
            result.GetValue(process),
            result.GetValue(format)!,
            result.GetValue(output),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, LiveRequest request, string? process, string format, FileInfo? output, CancellationToken cancellationToken)
    {
        // Declared before the sink so that it is disposed after it.
        await using var file = output is null ? null : new StreamWriter(output.FullName);
        var writer = file ?? console.Out;
        var origin = TimeOrigin.Now();
        using var sink = string.Equals(format, "jsonl", StringComparison.Ordinal)
            ? (ISyscallSink)new JsonLinesSink(new JsonLinesWriter(writer, origin, leaveOpen: true))
            : new SyscallTable(writer, origin);
        return await LiveRun.RunAsync(console, request, new SinkHandler(sink, process), cancellationToken);
    }

    private sealed class SinkHandler(ISyscallSink sink, string? process) : LiveHandler
    {
        public override IObservable<Syscall> Shape(LiveSession session, IObservable<Syscall> calls) => CallFilters.ByProcess(calls, process);

        public override void OnCall(Syscall call) => sink.Write(call);

        public override ValueTask CompleteAsync(LiveOutcome outcome)
        {
            sink.Flush();
            return ValueTask.CompletedTask;
        }
    }
}
