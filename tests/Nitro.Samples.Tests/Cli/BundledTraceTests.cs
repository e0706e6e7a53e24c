using System.Reactive.Linq;
using System.Text.RegularExpressions;
using Nitro.Cli;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Cli;

/// <summary>The real trace in samples/traces, through replay, stats and the demo's replay mode.</summary>
public sealed class BundledTraceTests
{
    private static string Trace => Path.Combine(TestGuest.RepositoryRoot, "samples", "traces", "demo.nitrotrace");

    [Test]
    public async Task Bundled_trace_replays_with_the_workload_calls()
    {
        var (code, output, error) = await CliRunner.RunAsync("replay", Trace);

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Contain("execve").And.Contain("openat").And.Contain("\"/etc/passwd\"").And.Contain("\"/etc/shadow\""));
        Assert.That(output, Does.Match(@"\bcat\s+openat\b"));
    }

    [Test]
    public async Task Bundled_trace_stats_name_the_recording_guest()
    {
        var calls = await TraceReplay.Syscalls(Trace).Count();

        var (code, output, error) = await CliRunner.RunAsync("stats", Trace);

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Contain("qemu-gdbstub").And.Contain("Linux version"));
        Assert.That(output, Does.Match($@"system calls\s*│\s*{calls:N0}\s*│"));
    }

    // The README's main job. Its summary once read the plugin's statistics from the control file
    // the ended session had unmapped, and the process died of an access violation after tracing.
    [Test]
    [Category("Integration")]
    [CancelAfter(240_000)]
    public async Task Demo_live_traces_the_bundled_guest_until_it_powers_off_and_prints_the_summary(CancellationToken cancellationToken)
    {
        var (code, output, error) = await CliRunner.RunAsync(cancellationToken, "demo", "--timeout", "180");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(error, Does.Contain("through the trap plugin").And.Contain(", 0 lost"));
        Assert.That(output, Does.Contain("live: Linux ").And.Contain("the guest powered off"));
        var calls = Regex.Match(output, @"system calls\s*│\s*(?<calls>[\d,]+)\s*│", RegexOptions.ExplicitCapture, TimeSpan.FromSeconds(1));
        Assert.That(calls.Success, Is.True, output);
        Assert.That(int.Parse(calls.Groups["calls"].Value, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(300));
        Assert.That(error, Does.Contain($"{calls.Groups["calls"].Value.Replace(",", string.Empty, StringComparison.Ordinal)} calls from"), "the summary counts what the statistics line counted");
    }

    [Test]
    public async Task Demo_replay_summary_has_the_counts_of_the_trace()
    {
        var calls = await TraceReplay.Syscalls(Trace).ToList();
        var entries = calls.Count(c => c.Direction == SyscallDirection.Enter);
        var top = calls.GroupBy(c => c.Name).Select(g => (Name: g.Key, Count: g.Count()))
            .OrderByDescending(g => g.Count).ThenBy(g => g.Name, StringComparer.Ordinal).Take(3).ToList();
        var busiest = calls.GroupBy(c => $"{c.Process!.Name} [{c.Process.Pid}]").MaxBy(g => g.Count())!;

        var (code, output, error) = await CliRunner.RunAsync("demo", "--replay");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Contain("end of trace"));
        Assert.That(output, Does.Match($@"system calls\s*│\s*{calls.Count:N0}\s*│"));
        Assert.That(output, Does.Match($@"entries / exits\s*│\s*{entries:N0} / {calls.Count - entries:N0}\s*│"));
        foreach (var (name, count) in top)
        {
            Assert.That(output, Does.Match($@"│ {Regex.Escape(name)}\s*│\s*{count:N0} │"), name);
        }

        Assert.That(output, Does.Match($@"│ {Regex.Escape(busiest.Key)}\s*│\s*{busiest.Count():N0} │"));
        Assert.That(output, Does.Not.Contain("\u001b["), "no escape codes when not a terminal");
    }

    [Test]
    public async Task Demo_replay_of_a_missing_trace_is_exit_code_2()
    {
        var (code, _, error) = await CliRunner.RunAsync("demo", "--replay", "--trace", "/nonexistent/x.nitrotrace");

        Assert.That(code, Is.EqualTo(NitroCommand.FileNotFound));
        Assert.That(error, Does.Contain("x.nitrotrace").And.Contain("does not exist"));
    }
}
