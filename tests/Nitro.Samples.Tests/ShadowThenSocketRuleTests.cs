using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;
using Nitro.Reactive.Testing.Marbles;
using Nitro.Reactive.Testing.Recording;
using Nitro.Samples.Rules;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests;

/// <summary>
/// The sample rule under virtual time, the way an Rx test suite writes it: Microsoft's
/// <see cref="TestScheduler"/>, <see cref="ReactiveTest"/> and <see cref="ReactiveAssert"/>, plus what the
/// one Nitro.Reactive.Testing package adds — marble diagrams (one frame is one second here), fake-syscall
/// builders, and a recorded trace replayed in its own time.
/// </summary>
public sealed class ShadowThenSocketRuleTests : ReactiveTest
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(5);

    private static readonly Dictionary<char, Syscall> s_calls = new()
    {
        ['s'] = SyscallBuilder.Enter("openat").ByProcess("evil", 66).WithDecoded("pathname", "/etc/shadow").Build(),
        ['p'] = SyscallBuilder.Enter("openat").ByProcess("evil", 66).WithDecoded("pathname", "/etc/passwd").Build(),
        ['k'] = SyscallBuilder.Enter("socket").ByProcess("evil", 66).WithArgs(2, 1, 0).Build(),
        ['c'] = SyscallBuilder.Enter("connect").ByProcess("evil", 66).Build(),
        ['o'] = SyscallBuilder.Enter("socket").ByProcess("curl", 77).Build(),
        ['x'] = SyscallBuilder.Exit("socket", 3).ByProcess("evil", 66).Build(),
    };

    private static TestScheduler SecondsScheduler() => new TestScheduler().WithFrameTicks(TimeSpan.FromSeconds(1).Ticks);

    [Test]
    public void Socket_within_five_seconds_of_reading_shadow_raises_an_alert()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s--k---|", s_calls);

        var observer = scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1);
        var alerts = AlertsOf(observer);

        Assert.That(alerts, Has.Count.EqualTo(1));
        Assert.That(alerts[0].Time, Is.EqualTo(Subscribed + (5 * scheduler.GetFrameTicks())), "the alert fires at the socket's frame");
        Assert.That(alerts[0].Value.Process.Name, Is.EqualTo("evil"));
        Assert.That(alerts[0].Value.Socket, Is.SameAs(s_calls['k']));
    }

    [Test]
    public void Socket_after_the_window_is_not_an_alert()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s------k-|", s_calls);
        var observer = scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1);
        scheduler.ExpectMarbles(observer, "^----------|", new Dictionary<char, ShadowThenSocketAlert>());
    }

    [Test]
    public void Socket_at_the_last_moment_of_the_window_still_counts()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s---k-|", s_calls);
        var alerts = AlertsOf(scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1));
        Assert.That(alerts, Has.Count.EqualTo(1), "4 s after the open is inside a 5 s window");
    }

    [Test]
    public void Another_process_opening_a_socket_is_not_an_alert()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s-o--|", s_calls);
        var alerts = AlertsOf(scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1));
        Assert.That(alerts, Is.Empty);
    }

    [Test]
    public void Other_files_and_socket_exits_are_ignored()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-p-x-k-|", s_calls);
        var alerts = AlertsOf(scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1));
        Assert.That(alerts, Is.Empty);
    }

    [Test]
    public void Only_the_first_socket_call_after_an_open_alerts_and_a_new_open_rearms()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^s-k-c--------s-c-|", s_calls);
        var alerts = AlertsOf(scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1));

        Assert.That(alerts.Select(a => a.Value.Socket.Name), Is.EqualTo(new[] { "socket", "connect" }));
        Assert.That(alerts.Select(a => a.Time), Is.EqualTo(new[]
        {
            Subscribed + (3 * scheduler.GetFrameTicks()),
            Subscribed + (16 * scheduler.GetFrameTicks()),
        }));
    }

    [Test]
    public void An_error_in_the_stream_reaches_the_rule_subscriber()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s-#", s_calls);
        var observer = scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1);
        scheduler.ExpectMarbles(observer, "^---#", new Dictionary<char, ShadowThenSocketAlert>());
    }

    [Test]
    public void Expected_alerts_can_be_written_with_ReactiveTest_and_checked_by_ReactiveAssert()
    {
        var scheduler = SecondsScheduler();
        var calls = scheduler.Hot("^-s--k---|", s_calls);

        var observer = scheduler.Start(() => ShadowThenSocketRule.Detect(calls, s_window, scheduler), disposed: long.MaxValue - 1);

        ReactiveAssert.AreElementsEqual(
            new[]
            {
                OnNext<ShadowThenSocketAlert>(Subscribed + TimeSpan.FromSeconds(5).Ticks, alert => alert.Socket == s_calls['k']),
                OnCompleted<ShadowThenSocketAlert>(Subscribed + TimeSpan.FromSeconds(9).Ticks),
            },
            observer.Messages);
    }

    [Test]
    public void The_bundled_trace_reads_shadow_but_opens_no_socket_so_the_rule_stays_quiet()
    {
        var scheduler = new TestScheduler();
        var trace = scheduler.ReplaySyscalls(Path.Combine(TestGuest.RepositoryRoot, "samples", "traces", "demo.nitrotrace"));
        var shadowOpens = scheduler.CreateObserver<Syscall>();
        trace.Where(c => c.Name is "openat" && c.Decoded.TryGetValue("pathname", out var f) && f is "/etc/shadow").Subscribe(shadowOpens);

        var observer = scheduler.Start(() => ShadowThenSocketRule.Detect(trace, s_window, scheduler), disposed: long.MaxValue - 1);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(shadowOpens.Messages.Count(m => m.Value.Kind == System.Reactive.NotificationKind.OnNext), Is.EqualTo(1), "guest/init runs cat /etc/shadow once");
            Assert.That(observer.Messages, Has.Count.EqualTo(1), "no alert, only the end of the trace");
            Assert.That(observer.Messages[0].Value.Kind, Is.EqualTo(System.Reactive.NotificationKind.OnCompleted));
            Assert.That(
                TimeSpan.FromTicks(observer.Messages[0].Time - Subscribed),
                Is.EqualTo(TimeSpan.FromSeconds(4.1)).Within(TimeSpan.FromSeconds(0.2)),
                "the replay ends 4.1 s of virtual time later, as recorded");
        }
    }

    [Test]
    public void A_socket_two_seconds_after_the_bundled_trace_reads_shadow_raises_an_alert()
    {
        var scheduler = new TestScheduler();
        var trace = scheduler.ReplaySyscalls(Path.Combine(TestGuest.RepositoryRoot, "samples", "traces", "demo.nitrotrace"));
        // The real open of /etc/shadow by cat, at its recorded time; then a fake socket call by the same process.
        var open = trace.Messages.Single(m => m.Value.Kind == System.Reactive.NotificationKind.OnNext
            && m.Value.Value.Name is "openat" && m.Value.Value.Decoded.TryGetValue("pathname", out var f) && f is "/etc/shadow");
        var socketAt = Subscribed + open.Time + TimeSpan.FromSeconds(2).Ticks;
        var socket = SyscallBuilder.Enter("socket").ByProcess(open.Value.Value.Process).WithArgs(2, 1, 0).Build();
        var injected = scheduler.CreateHotObservable(OnNext(socketAt, socket));

        var alerts = AlertsOf(scheduler.Start(() => ShadowThenSocketRule.Detect(trace.Merge(injected), s_window, scheduler), disposed: long.MaxValue - 1));

        Assert.That(alerts, Has.Count.EqualTo(1));
        Assert.That(alerts[0].Time, Is.EqualTo(socketAt));
        Assert.That(alerts[0].Value.ShadowOpen, Is.SameAs(open.Value.Value));
        Assert.That(alerts[0].Value.Process.Name, Is.EqualTo("cat"));
    }

    private static List<Recorded<ShadowThenSocketAlert>> AlertsOf(ITestableObserver<ShadowThenSocketAlert> observer) =>
        observer.Messages
            .Where(m => m.Value.Kind == System.Reactive.NotificationKind.OnNext)
            .Select(m => new Recorded<ShadowThenSocketAlert>(m.Time, m.Value.Value!))
            .ToList();
}
