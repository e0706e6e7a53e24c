using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;

namespace Nitro.Reactive.Tests.Linq;

public sealed class MergeVcpusTests
{
    [Test]
    public void MergeVcpus_serializes_concurrent_listener_threads_and_keeps_vcpu_ids()
    {
        const int vcpus = 4;
        const int perVcpu = 5_000;
        var subjects = Enumerable.Range(0, vcpus).Select(_ => new Subject<NitroEvent>()).ToArray();
        var inside = 0;
        var overlaps = 0;
        var counts = new int[vcpus];
        using var _ = subjects.MergeVcpus().Subscribe(e =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            counts[e.Vcpu]++;
            Thread.SpinWait(20);
            Interlocked.Decrement(ref inside);
        });

        var threads = Enumerable.Range(0, vcpus).Select(v => new Thread(() =>
        {
            for (var i = 0; i < perVcpu; i++)
            {
                subjects[v].OnNext(Fakes.Event(vcpu: v, timestamp: i));
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            Assert.That(t.Join(TimeSpan.FromSeconds(30)), Is.True);
        }

        Assert.That(overlaps, Is.Zero, "OnNext calls must never overlap");
        Assert.That(counts, Is.All.EqualTo(perVcpu));
    }

    [Test]
    public void MergeVcpus_completes_when_all_vcpus_complete_and_fails_on_any_error()
    {
        var a = new Subject<NitroEvent>();
        var b = new Subject<NitroEvent>();
        var completed = false;
        using (new[] { a, b }.MergeVcpus().Subscribe(_ => { }, () => completed = true))
        {
            a.OnCompleted();
            Assert.That(completed, Is.False);
            b.OnCompleted();
            Assert.That(completed, Is.True);
        }

        var c = new Subject<NitroEvent>();
        var d = new Subject<NitroEvent>();
        Exception? error = null;
        using (new[] { c, d }.MergeVcpus().Subscribe(_ => { }, ex => error = ex))
        {
            d.OnError(new IOException("vcpu 1 lost"));
            Assert.That(error, Is.InstanceOf<IOException>());
            Assert.That(c.HasObservers, Is.False, "the other vCPU streams are unsubscribed");
        }
    }
}
