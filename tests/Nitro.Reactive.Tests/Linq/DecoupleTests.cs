using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Statistics;

namespace Nitro.Reactive.Tests.Linq;

public sealed class DecoupleTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);

    [Test]
    public void Decouple_delivers_everything_in_order_on_another_thread()
    {
        var producerThread = Environment.CurrentManagedThreadId;
        var received = new List<int>();
        var consumerThreads = new HashSet<int>();
        using var done = new ManualResetEventSlim();
        using var _ = Observable.Range(0, 10_000).Decouple(16).Subscribe(
            i =>
            {
                received.Add(i);
                consumerThreads.Add(Environment.CurrentManagedThreadId);
            },
            () => done.Set());

        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(received, Is.EqualTo(Enumerable.Range(0, 10_000)));
        Assert.That(consumerThreads, Has.Count.EqualTo(1).And.Not.Contains(producerThread));
    }

    [Test]
    public void Decouple_block_policy_makes_the_producer_wait_for_a_slow_observer()
    {
        using var gate = new ManualResetEventSlim();
        using var subject = new Subject<int>();
        using var _ = subject.Decouple(2).Subscribe(_ => gate.Wait(s_deadline));

        // The consumer holds item 0; items 1 and 2 fill the queue; item 3 must block.
        subject.OnNext(0);
        subject.OnNext(1);
        subject.OnNext(2);
        var blocked = Task.Run(() => subject.OnNext(3));
        Assert.That(blocked.Wait(TimeSpan.FromMilliseconds(300)), Is.False, "the producer should be blocked by back-pressure");
        gate.Set();
        Assert.That(blocked.Wait(s_deadline), Is.True);
    }

    [Test]
    public void Decouple_drop_newest_counts_every_dropped_item()
    {
        using var gate = new ManualResetEventSlim();
        var statistics = new NitroStatistics();
        var received = new List<int>();
        using var done = new ManualResetEventSlim();
        using var subject = new Subject<int>();
        using var _ = subject.Decouple(4, OverflowPolicy.DropNewest, statistics).Subscribe(
            i =>
            {
                gate.Wait(s_deadline);
                lock (received)
                {
                    received.Add(i);
                }
            },
            () => done.Set());

        for (var i = 0; i < 100; i++)
        {
            subject.OnNext(i);
        }

        gate.Set();
        subject.OnCompleted();
        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(received.Count + statistics.Snapshot().Dropped, Is.EqualTo(100), "every item is either delivered or counted");
        Assert.That(statistics.Snapshot().Dropped, Is.GreaterThan(0));
        Assert.That(received, Is.Ordered);
    }

    [Test]
    public void Decouple_drop_oldest_keeps_the_newest_items()
    {
        using var gate = new ManualResetEventSlim();
        var statistics = new NitroStatistics();
        var received = new List<int>();
        using var done = new ManualResetEventSlim();
        using var subject = new Subject<int>();
        using var started = new ManualResetEventSlim();
        using var _ = subject.Decouple(3, OverflowPolicy.DropOldest, statistics).Subscribe(
            i =>
            {
                started.Set();
                gate.Wait(s_deadline);
                received.Add(i);
            },
            () => done.Set());

        subject.OnNext(0);
        Assert.That(started.Wait(s_deadline), Is.True);
        for (var i = 1; i < 10; i++)
        {
            subject.OnNext(i);
        }

        gate.Set();
        subject.OnCompleted();
        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(received, Is.EqualTo(new[] { 0, 7, 8, 9 }));
        Assert.That(statistics.Snapshot().Dropped, Is.EqualTo(6));
    }

    [Test]
    public void Decouple_drop_policy_requires_statistics()
    {
        Assert.Throws<ArgumentNullException>(() => Observable.Never<int>().Decouple(1, OverflowPolicy.DropNewest));
    }

    [Test]
    public void Decouple_delivers_the_error_after_queued_items()
    {
        var seen = new List<string>();
        using var done = new ManualResetEventSlim();
        using var _ = Observable.Range(0, 3).Concat(Observable.Throw<int>(new IOException("socket lost")))
            .Decouple(8)
            .Subscribe(i => seen.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), ex => { seen.Add(ex.Message); done.Set(); });
        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(seen, Is.EqualTo(new[] { "0", "1", "2", "socket lost" }));
    }

    [Test]
    public void Decouple_throwing_observer_detaches_the_source_without_crashing()
    {
        using var unsubscribed = new ManualResetEventSlim();
        var source = Observable.Create<int>(o =>
        {
            o.OnNext(1);
            o.OnNext(2);
            return () => unsubscribed.Set();
        });
        var calls = 0;
        using var _ = source.Decouple(4).Subscribe(_ =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("observer bug");
        });
        Assert.That(unsubscribed.Wait(s_deadline), Is.True, "the source (the listener) must be detached");
        Thread.Sleep(50);
        Assert.That(calls, Is.EqualTo(1), "nothing is delivered after the observer threw");
    }

    [Test]
    public void Disposing_unblocks_a_waiting_producer()
    {
        using var gate = new ManualResetEventSlim();
        using var subject = new Subject<int>();
        var subscription = subject.Decouple(1).Subscribe(_ => gate.Wait(s_deadline));
        subject.OnNext(0);
        subject.OnNext(1);
        var blocked = Task.Run(() => subject.OnNext(2));
        Assert.That(blocked.Wait(TimeSpan.FromMilliseconds(200)), Is.False);
        subscription.Dispose();
        Assert.That(blocked.Wait(s_deadline), Is.True, "disposal must release the producer (the guest)");
        gate.Set();
    }
}
