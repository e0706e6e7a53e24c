using Nitro.Backends.Linux.Tracing;
using Nitro.Cli.Live;
using Nitro.Reactive.Events;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Boots the real guest, traces a 64-bit program that makes 32-bit calls with <c>int $0x80</c>, and
/// checks that they come out under their ia32 names and convention with exact values.
/// </summary>
[Category("Integration")]
[NonParallelizable]
[CancelAfter(300_000)]
public sealed class Ia32TracingTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(180);

    [Test]
    public async Task Full_trace_shows_the_int80_calls_with_ia32_names_arguments_and_results()
    {
        var (calls, report, session) = await TraceProbeAsync(null);
        TestContext.Out.WriteLine($"{calls.Count} calls, {calls.Count(c => c.Event.Mechanism == SyscallMechanism.Sysenter)} ia32; traps {session.Traps}; ia32 error: {session.Ia32Error ?? "none"}");

        Assert.That(session.Ia32Error, Is.Null);
        AssertProbeCalls(calls, report);

        // Every trap became a call, and the probe's ia32 calls are the only ia32 calls in this guest.
        Assert.That(session.Traps, Is.EqualTo(calls.Count));
        Assert.That(calls.Where(c => c.Event.Mechanism == SyscallMechanism.Sysenter).Select(c => c.Process?.Pid), Is.All.EqualTo(report.Pid));
    }

    [Test]
    public async Task Filtered_trace_catches_ia32_calls_at_their_ia32_handlers()
    {
        var (calls, report, session) = await TraceProbeAsync(["open", "write", "close", "getpid"]);
        TestContext.Out.WriteLine($"{calls.Count} calls, {calls.Count(c => c.Event.Mechanism == SyscallMechanism.Sysenter)} ia32; traps {session.Traps}");

        AssertProbeCalls(calls, report);
        Assert.That(calls.Select(c => c.Name).Distinct(), Is.SubsetOf(new[] { "open", "write", "close", "getpid" }), "only requested calls are reported");
        var ia32Entries = calls.Where(c => c.Event.Mechanism == SyscallMechanism.Sysenter && c.Direction == SyscallDirection.Enter).ToList();
        Assert.That(ia32Entries.Select(c => c.FullName), Is.EqualTo(new[] { "__ia32_compat_sys_open", "__ia32_sys_write", "__ia32_sys_close", "__ia32_compat_sys_open", "__ia32_sys_getpid" }));

        // getpid's handler serves both tables: one breakpoint, told apart by the task's TS_COMPAT flag.
        var getpids = calls.Where(c => c.Name == "getpid" && c.Direction == SyscallDirection.Enter && c.Process?.Pid == report.Pid).ToList();
        Assert.That(getpids.Select(c => (c.Event.Mechanism, c.Number)), Is.EquivalentTo(new[] { (SyscallMechanism.Sysenter, 20L), (SyscallMechanism.Syscall, 39L) }));
        Assert.That(getpids.Select(c => c.Event.Registers.Rip).Distinct().Count(), Is.EqualTo(1), "the same handler");
        Assert.That(session.Traps, Is.LessThanOrEqualTo((calls.Count * 2) + 10), "unrequested calls must not stop the guest");
    }

    private static void AssertProbeCalls(List<Syscall> calls, Ia32ProbeReport report)
    {
        Assert.That(report, Is.EqualTo(new Ia32ProbeReport(report.Pid, report.ParentPid, report.Fd, Ia32ProbeGuest.Message.Length, 0, -2, report.Pid)), "the probe's own view");
        var ia32 = calls.Where(c => c.Event.Mechanism == SyscallMechanism.Sysenter && c.Process?.Pid == report.Pid).ToList();
        Assert.That(ia32.Where(c => c.Direction == SyscallDirection.Enter).Select(c => (c.Name, c.Number)), Is.EqualTo(new[] { ("open", 5L), ("write", 4L), ("close", 6L), ("open", 5L), ("getpid", 20L) }));
        Assert.That(ia32.Select(c => c.Arguments.Convention), Is.All.SameAs(CallingConvention.LinuxIa32));
        Assert.That(ia32.Select(c => c.Process!.Name), Is.All.EqualTo(Ia32ProbeGuest.ProgramName));
        var process = (LinuxProcess)ia32[0].Process!;
        Assert.That(process.ParentPid, Is.EqualTo(report.ParentPid));
        Assert.That(process.ExecutablePath, Is.EqualTo("/" + Ia32ProbeGuest.ProgramName));

        var exits = ia32.Where(c => c.Direction == SyscallDirection.Exit).ToList();
        Assert.That(exits, Has.Count.EqualTo(5), "every ia32 call's exit is seen");
        Assert.That(exits.Select(c => c.Entry), Is.All.Not.Null, "exits are paired with their entries");

        var open = exits[0];
        Assert.That(open.Name, Is.EqualTo("open"));
        Assert.That(open.Entry!.Decoded["pathname"], Is.EqualTo(Ia32ProbeGuest.FilePath));
        Assert.That(open.Entry.Decoded["flags"], Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC"));
        Assert.That(open.Entry.Decoded["mode"], Is.EqualTo("0640"));
        Assert.That(open.ReturnValue, Is.EqualTo(report.Fd));

        var write = exits[1];
        Assert.That(write.Name, Is.EqualTo("write"));
        Assert.That(write.Entry!.Decoded["fd"], Is.EqualTo((long)report.Fd));
        Assert.That(write.Entry.Decoded["count"], Is.EqualTo((long)Ia32ProbeGuest.Message.Length));
        Assert.That(write.Entry.Decoded["buf"], Is.EqualTo(System.Text.Encoding.ASCII.GetBytes(Ia32ProbeGuest.Message)));
        Assert.That(write.ReturnValue, Is.EqualTo(Ia32ProbeGuest.Message.Length));

        var close = exits[2];
        Assert.That(close.Name, Is.EqualTo("close"));
        Assert.That(close.Entry!.Decoded["fd"], Is.EqualTo((long)report.Fd));
        Assert.That(close.ReturnValue, Is.Zero);

        var missing = exits[3];
        Assert.That(missing.Name, Is.EqualTo("open"));
        Assert.That(missing.Entry!.Decoded["pathname"], Is.EqualTo(Ia32ProbeGuest.MissingPath));
        Assert.That(missing.ReturnValue, Is.EqualTo(-2));
        Assert.That(missing.Decoded["errno"], Is.EqualTo("ENOENT"));
        Assert.That(exits[4].ReturnValue, Is.EqualTo(report.Pid));

        var json = SyscallJson.ToJson(open, TimeOrigin.Now());
        Assert.That(json, Does.Contain("\"type\":\"sysenter\"").And.Contain("\"name\":\"open\"").And.Contain("\"number\":5"));
    }

    private static async Task<(List<Syscall> Calls, Ia32ProbeReport Report, SessionFacts Session)> TraceProbeAsync(string[]? syscalls)
    {
        var (kernel, initrd) = Ia32ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = Nitro.Kvm.Tracing.ListenerChoice.GdbStub, Kernel = kernel, Initrd = initrd }, CancellationToken.None);
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(syscalls).Subscribe(calls.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            var line = await session.Target.WaitForConsoleAsync("IA32PROBE", s_deadline);
            await done.Task.WaitAsync(s_deadline); // the guest powers off after its workload
            return (calls, Ia32ProbeReport.Parse(line), new SessionFacts(((Nitro.Kvm.Listening.GdbStubListener)session.Listener).Statistics.Traps, session.Linux!.Ia32Error));
        }
    }

    private sealed record SessionFacts(long Traps, string? Ia32Error);
}
