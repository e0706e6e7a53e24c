using System.Reactive;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using static Microsoft.Reactive.Testing.ReactiveTest;

namespace Nitro.Reactive.Testing.Tests;

/// <summary>
/// The behaviour of Microsoft's TestScheduler that the marble and replay helpers build on: the
/// Start times, hot and cold playing, TimeSpan ticks, and "now" one tick later. A new package
/// version that changed any of it would show here first.
/// </summary>
public sealed class MicrosoftTestSchedulerTests
{
    [Test]
    public void Start_creates_at_100_subscribes_at_200_and_disposes_at_1000()
    {
        var scheduler = new TestScheduler();
        long createdAt = -1;
        long subscribedAt = -1;
        long disposedAt = -1;

        scheduler.Start(() =>
        {
            createdAt = scheduler.Clock;
            return Observable.Create<int>(_ =>
            {
                subscribedAt = scheduler.Clock;
                return () => disposedAt = scheduler.Clock;
            });
        });

        Assert.That((createdAt, subscribedAt, disposedAt), Is.EqualTo((100L, 200L, 1000L)));
    }

    [Test]
    public void Start_with_custom_times_uses_them()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateColdObservable(OnNext(10, 'a'));

        scheduler.Start(() => source, created: 50, subscribed: 300, disposed: 400);

        Assert.That(source.Subscriptions, Is.EqualTo(new[] { Subscribe(300, 400) }));
    }

    [Test]
    public void Hot_observable_delivers_only_messages_after_the_subscription()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateHotObservable(OnNext(150, 1), OnNext(210, 2), OnNext(300, 3), OnCompleted<int>(400));

        var observer = scheduler.Start(() => source);

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(210, 2), OnNext(300, 3), OnCompleted<int>(400) }));
    }

    [Test]
    public void Cold_observable_plays_messages_relative_to_each_subscription()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateColdObservable(OnNext(10, 1), OnCompleted<int>(20));
        var first = scheduler.CreateObserver<int>();
        var second = scheduler.CreateObserver<int>();
        scheduler.ScheduleAbsolute(100, () => source.Subscribe(first));
        scheduler.ScheduleAbsolute(500, () => source.Subscribe(second));

        scheduler.Start();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Messages, Is.EqualTo(new[] { OnNext(110, 1), OnCompleted<int>(120) }));
            Assert.That(second.Messages, Is.EqualTo(new[] { OnNext(510, 1), OnCompleted<int>(520) }));
            Assert.That(source.Subscriptions, Is.EqualTo(new[] { Subscribe(100), Subscribe(500) }));
        }
    }

    [Test]
    public void Hot_observable_shares_each_message_between_subscribers()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateHotObservable(OnNext(300, 'x'));
        var early = scheduler.CreateObserver<char>();
        var late = scheduler.CreateObserver<char>();
        scheduler.ScheduleAbsolute(100, () => source.Subscribe(early));
        scheduler.ScheduleAbsolute(250, () => source.Subscribe(late));

        scheduler.Start();

        Assert.That(early.Messages.Concat(late.Messages), Is.EqualTo(new[] { OnNext(300, 'x'), OnNext(300, 'x') }));
    }

    [Test]
    public void Disposal_at_1000_stops_messages_and_is_recorded()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateHotObservable(OnNext(900, 1), OnNext(1001, 2), OnCompleted<int>(1100));

        var observer = scheduler.Start(() => source);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(900, 1) }));
            Assert.That(source.Subscriptions, Is.EqualTo(new[] { Subscribe(200, 1000) }));
        }
    }

    [Test]
    public void Disposing_a_cold_subscription_cancels_its_pending_messages()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateColdObservable(OnNext(100, 1), OnNext(900, 2));

        var observer = scheduler.Start(() => source, disposed: 500);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(300, 1) }));
            Assert.That(source.Subscriptions, Is.EqualTo(new[] { Subscribe(200, 500) }));
        }
    }

    [Test]
    public void Live_subscription_ends_at_infinite()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateHotObservable<int>();

        source.Subscribe(_ => { });

        Assert.That(source.Subscriptions.Single().Unsubscribe, Is.EqualTo(Subscription.Infinite));
    }

    [Test]
    public void Timer_ticks_are_TimeSpan_ticks()
    {
        var scheduler = new TestScheduler();

        var observer = scheduler.Start(() => Observable.Timer(TimeSpan.FromTicks(50), scheduler));

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(250, 0L), OnCompleted<long>(250) }));
    }

    [Test]
    public void Work_scheduled_for_now_runs_one_tick_later()
    {
        var scheduler = new TestScheduler();

        var observer = scheduler.Start(() => Observable.Return(42, scheduler));

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(201, 42), OnCompleted<int>(201) }));
    }

    [Test]
    public void Cold_messages_at_time_zero_arrive_one_tick_after_the_subscription()
    {
        var scheduler = new TestScheduler();
        var source = scheduler.CreateColdObservable(OnNext(0, 'a'), OnNext(10, 'b'));

        var observer = scheduler.Start(() => source);

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnNext(201, 'a'), OnNext(210, 'b') }));
    }

    [Test]
    public void Now_follows_the_virtual_clock()
    {
        var scheduler = new TestScheduler();

        scheduler.AdvanceTo(TimeSpan.FromSeconds(3).Ticks);

        Assert.That(scheduler.Now, Is.EqualTo(new DateTimeOffset(TimeSpan.FromSeconds(3).Ticks, TimeSpan.Zero)));
    }

    [Test]
    public void ScheduleAbsolute_runs_in_time_order_and_can_be_cancelled()
    {
        var scheduler = new TestScheduler();
        var ran = new List<(long, string)>();
        scheduler.ScheduleAbsolute(30, () => ran.Add((scheduler.Clock, "c")));
        scheduler.ScheduleAbsolute(10, () => ran.Add((scheduler.Clock, "a")));
        var cancelled = scheduler.ScheduleAbsolute(20, () => ran.Add((scheduler.Clock, "b")));
        cancelled.Dispose();

        scheduler.Start();

        Assert.That(ran, Is.EqualTo(new[] { (10L, "a"), (30L, "c") }));
    }

    [Test]
    public void Observer_records_errors_with_their_time()
    {
        var scheduler = new TestScheduler();
        var boom = new InvalidOperationException("boom");

        var observer = scheduler.Start(() => Observable.Throw<int>(boom, scheduler));

        Assert.That(observer.Messages, Is.EqualTo(new[] { OnError<int>(201, boom) }));
    }
}
