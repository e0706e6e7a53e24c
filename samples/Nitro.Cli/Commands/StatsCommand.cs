using System.CommandLine;
using System.Globalization;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Spectre.Console;

namespace Nitro.Cli.Commands;

/// <summary><c>nitro stats FILE</c>: what a trace holds — guest, time span, counts by call and process.</summary>
internal static class StatsCommand
{
    private const int TopRows = 20;

    public static Command Create(CliConsole console)
    {
        var file = TraceFileArgument.Create();
        var command = new Command("stats", "Summarises a recorded trace: guest, events, calls by name and by process") { file };
        command.SetAction((result, cancellationToken) => RunAsync(console, result.GetValue(file)!, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, FileInfo file, CancellationToken cancellationToken)
    {
        if (!TraceFileArgument.Exists(file, console))
        {
            return NitroCommand.FileNotFound;
        }

        var counter = new TraceCounter();
        TraceHeader? header = null;
        TraceFormatException? damage = null;
        await using (var reader = TraceReader.OpenFile(file.FullName))
        {
            try
            {
                header = await reader.ReadHeaderAsync(cancellationToken);
                await reader.ReadToEndAsync(counter, cancellationToken);
            }
            catch (TraceFormatException ex)
            {
                damage = ex;
            }
        }

        var ansi = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(console.Out),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });

        if (header is not null)
        {
            ansi.Write(SummaryTable(file, header, counter));
            ansi.Write(CountTable("system call", counter.ByName));
            ansi.Write(CountTable("process", counter.ByProcess));
        }

        if (damage is not null)
        {
            await console.Error.WriteLineAsync($"nitro: {damage.Message}");
            await console.Error.WriteLineAsync($"nitro: the counts above cover the {counter.Events:N0} events before the damage.");
            return NitroCommand.DamagedTrace;
        }

        return NitroCommand.Ok;
    }

    private static Table SummaryTable(FileInfo file, TraceHeader header, TraceCounter counter)
    {
        var table = new Table().AddColumn("trace").AddColumn(Markup.Escape(file.Name));
        table.AddRow("format version", header.Version.ToString(CultureInfo.InvariantCulture));
        table.AddRow("created", header.CreatedUtc.ToString("u", CultureInfo.InvariantCulture));
        foreach (var (key, value) in header.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            table.AddRow(Markup.Escape(key), Markup.Escape(value));
        }

        table.AddRow("raw events", counter.Events.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("system calls", counter.Syscalls.ToString("N0", CultureInfo.InvariantCulture));
        table.AddRow("entries / exits", string.Create(CultureInfo.InvariantCulture, $"{counter.Entries:N0} / {counter.Exits:N0}"));
        table.AddRow("vCPUs seen", string.Join(", ", counter.Vcpus.Order()));
        if (counter.Events > 0)
        {
            table.AddRow("time span", TimeSpan.FromTicks((counter.LastTimestamp - counter.FirstTimestamp) / 100).ToString("c", CultureInfo.InvariantCulture));
        }

        return table;
    }

    private static Table CountTable(string what, Dictionary<string, long> counts)
    {
        var table = new Table().AddColumn(what).AddColumn(new TableColumn("calls").RightAligned());
        foreach (var (name, count) in counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(TopRows))
        {
            table.AddRow(Markup.Escape(name), count.ToString("N0", CultureInfo.InvariantCulture));
        }

        if (counts.Count > TopRows)
        {
            table.AddRow($"({counts.Count - TopRows} more)", string.Empty);
        }

        return table;
    }

    private sealed class TraceCounter : ITraceVisitor
    {
        public long Events { get; private set; }

        public long Syscalls { get; private set; }

        public long Entries { get; private set; }

        public long Exits { get; private set; }

        public long FirstTimestamp { get; private set; }

        public long LastTimestamp { get; private set; }

        public HashSet<int> Vcpus { get; } = [];

        public Dictionary<string, long> ByName { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> ByProcess { get; } = new(StringComparer.Ordinal);

        public void OnEvent(in TraceEventView e)
        {
            if (Events++ == 0)
            {
                FirstTimestamp = e.Timestamp;
            }

            LastTimestamp = e.Timestamp;
            Vcpus.Add(e.Vcpu);
        }

        public void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
        {
            Syscalls++;
            if (e.Direction == SyscallDirection.Enter)
            {
                Entries++;
            }
            else
            {
                Exits++;
            }

            Bump(ByName, syscall.Name);
            Bump(ByProcess, syscall.Process is { } p ? $"{p.Name} [{p.Pid}]" : "(unknown)");
        }

        private static void Bump(Dictionary<string, long> counts, string key) =>
            counts[key] = counts.GetValueOrDefault(key) + 1;
    }
}
