using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Nitro.Kvm.Libvirt;

namespace Nitro.Kvm.Tests.Libvirt;

[NonParallelizable]
public sealed class LibvirtLifecycleEventTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(5);

    [SetUp]
    public void RequireLibvirt() => LibvirtTestDriver.RequireLibvirt();

    [TearDown]
    public async Task WaitForTheDriverToReset()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status != NUnit.Framework.Interfaces.TestStatus.Skipped)
        {
            Assert.That(await LibvirtTestDriver.WaitForFreshStateAsync(s_deadline), Is.EqualTo(DomainState.Running), "test:///default was not rebuilt: a reference leaked");
        }
    }

    [Test]
    public async Task LifecycleEvents_reports_suspend_resume_destroy_create_in_order()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using var domain = connection.LookupDomain(LibvirtTestDriver.DefaultDomain);
        var events = connection.LifecycleEvents().Take(4).ToList().Timeout(s_deadline).ToTask();

        domain.Suspend();
        domain.Resume();
        domain.Destroy();
        domain.Create();
        var seen = await events;

        Assert.That(seen, Is.EqualTo(new[]
        {
            new DomainLifecycleEvent("test", DomainLifecycleEventKind.Suspended, 0),
            new DomainLifecycleEvent("test", DomainLifecycleEventKind.Resumed, 0),
            new DomainLifecycleEvent("test", DomainLifecycleEventKind.Stopped, 1),
            new DomainLifecycleEvent("test", DomainLifecycleEventKind.Started, 0),
        }));
    }

    [Test]
    public async Task An_observer_that_throws_gets_OnError_and_others_keep_receiving()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using var domain = connection.LookupDomain(LibvirtTestDriver.DefaultDomain);
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var boom = new InvalidOperationException("observer failed");
        var calls = 0;
        var others = connection.LifecycleEvents().Take(2).ToList().Timeout(s_deadline).ToTask();
        using var subscription = connection.LifecycleEvents().Subscribe(
            _ =>
            {
                Interlocked.Increment(ref calls);
                throw boom;
            },
            ex => failed.TrySetResult(ex));

        domain.Suspend();
        var error = await failed.Task.WaitAsync(s_deadline);
        domain.Resume();
        var seen = await others;

        Assert.Multiple(() =>
        {
            Assert.That(error, Is.SameAs(boom));
            Assert.That(Volatile.Read(ref calls), Is.EqualTo(1), "the failed observer gets nothing after OnError");
            Assert.That(seen.Select(e => e.Kind), Is.EqualTo(new[] { DomainLifecycleEventKind.Suspended, DomainLifecycleEventKind.Resumed }));
        });
    }

    [Test]
    public async Task Disposed_subscription_receives_nothing_more()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using var domain = connection.LookupDomain(LibvirtTestDriver.DefaultDomain);
        var received = new List<DomainLifecycleEvent>();
        var later = connection.LifecycleEvents().Take(1).Timeout(s_deadline).ToTask();
        var subscription = connection.LifecycleEvents().Subscribe(e => { lock (received) { received.Add(e); } });
        subscription.Dispose();

        domain.Suspend();
        await later;

        lock (received)
        {
            Assert.That(received, Is.Empty, "a second subscription saw the event, the disposed one did not");
        }
    }

    [Test]
    public async Task A_subscription_outliving_its_connection_still_deregisters_and_state_resets()
    {
        IDisposable subscription;
        using (var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri))
        using (var domain = connection.LookupDomain(LibvirtTestDriver.DefaultDomain))
        {
            var first = connection.LifecycleEvents().Take(1).Timeout(s_deadline).ToTask();
            subscription = connection.LifecycleEvents().Subscribe(_ => { });
            domain.Suspend();
            await first;
        }

        subscription.Dispose();

        var state = await LibvirtTestDriver.WaitForFreshStateAsync(s_deadline);

        Assert.That(state, Is.EqualTo(DomainState.Running), "the last reference was released, so test:///default was rebuilt");
    }
}
