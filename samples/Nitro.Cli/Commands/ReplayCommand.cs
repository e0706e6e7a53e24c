using System.CommandLine;
using System.Reactive.Linq;
using Nitro.Cli.Output;
using Nitro.Reactive.Export;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro replay FILE [--process NAME|PID] [--syscall a,b] [--format table|jsonl]</c>.</summary>
internal static class ReplayCommand
{
    public static Command Create(CliConsole console)
    {
        var file = TraceFileArgument.Create();
        var process = new Option<string?>("--process", "-p") { Description = "Only calls of this process (a name, or a pid)" };
        var syscall = new Option<string[]>("--syscall", "-s")
        {
            Description = "Only these system calls (comma-separated or repeated): --syscall openat,read",
            AllowMultipleArgumentsPerToken = true,
        };
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "jsonl");

        var command = new Command("replay", "Replays a recorded trace as system calls, filtered like a LINQ query") { file, process, syscall, format };
        command.SetAction((result, cancellationToken) => RunAsync(
            console,
            result.GetValue(file)!,
            result.GetValue(process),
            result.GetValue(syscall) ?? [],
            result.GetValue(format)!,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, FileInfo file, string? process, string[] syscalls, string format, CancellationToken cancellationToken)
    {
        if (!TraceFileArgument.Exists(file, console))
        {
            return NitroCommand.FileNotFound;
        }

        TraceHeader header;
        try
        {
            await using var reader = TraceReader.OpenFile(file.FullName);
            header = await reader.ReadHeaderAsync(cancellationToken);
        }
        catch (TraceFormatException ex)
        {
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            return NitroCommand.DamagedTrace;
        }

        var calls = CallFilters.ByProcess(TraceReplay.Syscalls(file.FullName), process);
        var names = CallFilters.SplitNames(syscalls);
        if (names.Length > 0)
        {
            calls = calls.WhereSyscall(names);
        }

        var origin = header.Origin;
        using var sink = string.Equals(format, "jsonl", StringComparison.Ordinal)
            ? (ISyscallSink)new JsonLinesSink(new JsonLinesWriter(console.Out, origin, leaveOpen: true))
            : new SyscallTable(console.Out, origin);

        long printed = 0;
        try
        {
            await calls.ForEachAsync(
                call =>
                {
                    sink.Write(call);
                    printed++;
                },
                cancellationToken);
        }
        catch (TraceFormatException ex)
        {
            sink.Flush();
            await console.Error.WriteLineAsync($"nitro: {ex.Message}");
            await console.Error.WriteLineAsync($"nitro: {printed} calls before the damage were printed.");
            return NitroCommand.DamagedTrace;
        }

        sink.Flush();
        return NitroCommand.Ok;
    }
}
