using System.Diagnostics;
using System.Globalization;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Nitro.Cli.Demo;

/// <summary>
/// The demo's screen: a live Spectre.Console view on a terminal, plain periodic lines otherwise,
/// and a final summary. It samples <see cref="DemoCounters"/> on its own thread; it never runs on the listener thread.
/// </summary>
internal sealed class DemoView
{
    private const int TopRows = 10;
    private static readonly TimeSpan LiveRefresh = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan PlainRefresh = TimeSpan.FromSeconds(1);

    private readonly CliConsole _console;
    private readonly IAnsiConsole _ansi;
    private readonly DemoCounters _counters;
    private readonly Func<DemoGauges> _gauges;
    private readonly string _title;
    private readonly Stopwatch _clock = new();
    private long _lastCalls;
    private TimeSpan _lastTime;
    private double _rate;

    public DemoView(CliConsole console, DemoCounters counters, Func<DemoGauges> gauges, string title)
    {
        _console = console;
        _counters = counters;
        _gauges = gauges;
        _title = title;
        _ansi = console.IsTerminal
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(console.Out),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
        if (!console.IsTerminal)
        {
            _ansi.Profile.Width = 120;
        }
    }

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Shows the counters until <paramref name="stop"/> is cancelled.</summary>
    public async Task ShowAsync(CancellationToken stop)
    {
        _clock.Start();
        if (_console.IsTerminal)
        {
            await _ansi.Live(Render(Sample())).AutoClear(false).StartAsync(async context =>
            {
                while (await Tick(LiveRefresh, stop))
                {
                    context.UpdateTarget(Render(Sample()));
                }

                context.UpdateTarget(Render(Sample()));
            });
        }
        else
        {
            while (await Tick(PlainRefresh, stop))
            {
                var snapshot = Sample();
                var gauges = _gauges();
                await _console.Out.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"nitro demo: {Elapsed.TotalSeconds,5:0.0} s  {snapshot.Calls,7:N0} calls  {_rate,6:0}/s  traps {Show(gauges.Traps)}  dropped {Show(gauges.Dropped)}  processes {snapshot.DistinctProcesses}"));
            }
        }
    }

    /// <summary>Writes the final summary: totals, then the top system calls and processes.</summary>
    public void WriteSummary(string outcome)
    {
        _clock.Stop();
        var snapshot = _counters.Snapshot(TopRows);
        var gauges = _gauges();
        var seconds = Math.Max(Elapsed.TotalSeconds, 0.001);
        var summary = new Table().Title("summary").AddColumn("demo").AddColumn(new TableColumn(Markup.Escape(_title)));
        summary.AddRow("ended", Markup.Escape(outcome));
        summary.AddRow("duration", Elapsed.TotalSeconds.ToString("0.0 s", CultureInfo.InvariantCulture));
        summary.AddRow("system calls", snapshot.Calls.ToString("N0", CultureInfo.InvariantCulture));
        summary.AddRow("entries / exits", string.Create(CultureInfo.InvariantCulture, $"{snapshot.Entries:N0} / {snapshot.Calls - snapshot.Entries:N0}"));
        summary.AddRow("calls/s", (snapshot.Calls / seconds).ToString("N0", CultureInfo.InvariantCulture));
        summary.AddRow("traps", Show(gauges.Traps));
        summary.AddRow("raw events", Show(gauges.Events));
        summary.AddRow("memory errors", Show(gauges.MemoryErrors));
        summary.AddRow("dropped", Show(gauges.Dropped));
        summary.AddRow("distinct calls / processes", string.Create(CultureInfo.InvariantCulture, $"{snapshot.DistinctSyscalls} / {snapshot.DistinctProcesses}"));
        _ansi.Write(summary);
        _ansi.Write(new Columns(CountTable("system call", snapshot.BySyscall), CountTable("process", snapshot.ByProcess)).Collapse());
    }

    private static async Task<bool> Tick(TimeSpan period, CancellationToken stop)
    {
        try
        {
            await Task.Delay(period, stop);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string Show(long? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "-";

    private static Table CountTable(string what, IReadOnlyList<(string Name, long Count)> counts)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn(what).AddColumn(new TableColumn("calls").RightAligned());
        foreach (var (name, count) in counts)
        {
            table.AddRow(Markup.Escape(name), count.ToString("N0", CultureInfo.InvariantCulture));
        }

        return table;
    }

    private static string Describe(Syscall call)
    {
        if (call.Direction == SyscallDirection.Exit)
        {
            return "= " + call.ReturnValue?.ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in call.Decoded)
        {
            var text = value switch
            {
                string s => "\"" + s + "\"",
                string[] list => "[" + string.Join(' ', list) + "]",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value?.ToString() ?? "null",
            };

            // Guest strings are hostile: no control characters on the terminal.
            text = new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
            text = text.Length > 48 ? text[..47] + "…" : text;
            return key + "=" + text;
        }

        return string.Empty;
    }

    private DemoSnapshot Sample()
    {
        var snapshot = _counters.Snapshot(TopRows);
        var now = _clock.Elapsed;
        var span = (now - _lastTime).TotalSeconds;
        if (span > 0.2)
        {
            _rate = (snapshot.Calls - _lastCalls) / span;
            _lastCalls = snapshot.Calls;
            _lastTime = now;
        }

        return snapshot;
    }

    private IRenderable Render(DemoSnapshot snapshot)
    {
        var gauges = _gauges();
        var header = new Grid().AddColumn().AddColumn().AddColumn().AddColumn().AddColumn().AddColumn();
        header.AddRow(
            new Markup($"[bold]{Markup.Escape(_title)}[/]"),
            new Markup($"[grey]time[/] {Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s"),
            new Markup($"[grey]calls[/] [bold]{snapshot.Calls.ToString("N0", CultureInfo.InvariantCulture)}[/]"),
            new Markup($"[grey]calls/s[/] [bold green]{_rate.ToString("0", CultureInfo.InvariantCulture)}[/]"),
            new Markup($"[grey]traps[/] {Show(gauges.Traps)}  [grey]memory errors[/] {Show(gauges.MemoryErrors)}"),
            new Markup($"[grey]dropped[/] {(gauges.Dropped is > 0 ? "[red]" + Show(gauges.Dropped) + "[/]" : Show(gauges.Dropped))}"));

        var recent = new Table().Border(TableBorder.Rounded).Title("last calls")
            .AddColumn("cpu").AddColumn("pid").AddColumn("process").AddColumn("dir").AddColumn("syscall").AddColumn("details");
        foreach (var call in snapshot.Recent)
        {
            recent.AddRow(
                call.Vcpu.ToString(CultureInfo.InvariantCulture),
                call.Process?.Pid.ToString(CultureInfo.InvariantCulture) ?? "?",
                Markup.Escape(call.Process?.Name ?? "?"),
                call.Direction == SyscallDirection.Enter ? "enter" : "exit",
                Markup.Escape(call.Name),
                Markup.Escape(Describe(call)));
        }

        var counts = new Columns(CountTable("system call", snapshot.BySyscall), CountTable("process", snapshot.ByProcess)).Collapse();
        return new Rows(new Panel(header).Border(BoxBorder.Rounded).Expand(), counts, recent);
    }
}
