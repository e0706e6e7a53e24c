using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;
using Nitro.Reactive.Testing.Marbles;

namespace Nitro.Reactive.Tests.Linq;

/// <summary>Grammar and timing of the SDK's operators, checked with marble diagrams.</summary>
public sealed class OperatorMarbleTests
{
    private static readonly Dictionary<char, Syscall> s_calls = new()
    {
        ['o'] = SyscallBuilder.Enter("openat").ByProcess("cat", 42).WithThreadId(42).Build(),
        ['r'] = SyscallBuilder.Enter("read").ByProcess("cat", 42).WithThreadId(42).Build(),
        ['R'] = SyscallBuilder.Exit("read", 5).ByProcess("cat", 42).WithThreadId(42).AtTime(1_000).Build(),
        ['w'] = SyscallBuilder.Enter("write").ByProcess("sh", 7).WithThreadId(7).Build(),
    };

    private static IEnumerable<TestCaseData> Operators()
    {
        yield return new TestCaseData((Func<IObservable<Syscall>, IObservable<Syscall>>)(s => s.WhereSyscall("read", "openat"))).SetArgDisplayNames("WhereSyscall");
        yield return new TestCaseData((Func<IObservable<Syscall>, IObservable<Syscall>>)(s => s.WhereProcess("cat"))).SetArgDisplayNames("WhereProcess");
        yield return new TestCaseData((Func<IObservable<Syscall>, IObservable<Syscall>>)(s => s.WhereArgument(0, _ => true))).SetArgDisplayNames("WhereArgument");
        yield return new TestCaseData((Func<IObservable<Syscall>, IObservable<Syscall>>)(s => s.WhereDirection(SyscallDirection.Enter))).SetArgDisplayNames("WhereDirection");
        yield return new TestCaseData((Func<IObservable<Syscall>, IObservable<Syscall>>)(s => s.PairWithExit())).SetArgDisplayNames("PairWithExit");
    }

    [TestCaseSource(nameof(Operators))]
    public void Never_stays_silent(Func<IObservable<Syscall>, IObservable<Syscall>> op)
    {
        var scheduler = new TestScheduler();
        scheduler.ExpectMarbles(op(scheduler.Hot("--", s_calls)), "--", s_calls);
    }

    [TestCaseSource(nameof(Operators))]
    public void Empty_completes_at_the_same_frame(Func<IObservable<Syscall>, IObservable<Syscall>> op)
    {
        var scheduler = new TestScheduler();
        scheduler.ExpectMarbles(op(scheduler.Hot("^--|", s_calls)), "^--|", s_calls);
    }

    [TestCaseSource(nameof(Operators))]
    public void Throw_passes_the_error_at_the_same_frame(Func<IObservable<Syscall>, IObservable<Syscall>> op)
    {
        var scheduler = new TestScheduler();
        scheduler.ExpectMarbles(op(scheduler.Hot("^-#", s_calls)), "^-#", s_calls);
    }

    [TestCaseSource(nameof(Operators))]
    public void Subscription_lasts_from_subscribe_to_dispose_or_termination(Func<IObservable<Syscall>, IObservable<Syscall>> op)
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("^---|", s_calls);
        scheduler.Start(() => op(source));
        scheduler.ExpectSubscriptions(source, "^---!");
    }

    [Test]
    public void WhereSyscall_keeps_the_timing_of_matching_calls()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("^o-w-r-w|", s_calls);
        scheduler.ExpectMarbles(source.WhereSyscall("read", "openat"), "^o---r--|", s_calls);
    }

    [Test]
    public void Events_before_subscription_are_not_seen()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("r-^-r-|", s_calls);
        scheduler.ExpectMarbles(source.WhereProcess("cat"), "^-r-|", s_calls);
    }

    [Test]
    public void PairWithExit_emits_at_the_exit_frame()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("^r-w--R-|", s_calls);
        var observer = scheduler.Start(() => source.PairWithExit());
        var completed = observer.Messages.Where(m => m.Value.Kind == System.Reactive.NotificationKind.OnNext).ToList();

        Assert.That(completed, Has.Count.EqualTo(1));
        Assert.That(completed[0].Time, Is.EqualTo(ReactiveTest.Subscribed + (6 * scheduler.GetFrameTicks())));
        Assert.That(completed[0].Value.Value!.Entry, Is.SameAs(s_calls['r']));
        Assert.That(completed[0].Value.Value.ReturnValue, Is.EqualTo(5));
    }

    [Test]
    public void Disposing_early_stops_delivery()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.Hot("^r-r-r-r-|", s_calls);
        // '^' is frame 0, so the reads are at 210, 230, 250, 270; dispose between the second and third.
        var observer = scheduler.Start(() => source.WhereSyscall("read"), disposed: ReactiveTest.Subscribed + 40);
        Assert.That(observer.Messages.Select(m => m.Time).ToArray(), Is.EqualTo(new[] { 210L, 230L }));
    }
}
