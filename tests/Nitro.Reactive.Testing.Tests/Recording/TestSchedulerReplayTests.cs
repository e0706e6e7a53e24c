using System.Reactive;
using System.Reactive.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;
using Nitro.Reactive.Testing.Marbles;
using Nitro.Reactive.Testing.Recording;

namespace Nitro.Reactive.Testing.Tests.Recording;

public sealed class TestSchedulerReplayTests
{
    private string _trace = null!;

    [SetUp]
    public void WriteTrace()
    {
        _trace = Path.Combine(Path.GetTempPath(), $"nitro-replay-{Guid.NewGuid():N}.nitrotrace");
        using var writer = TraceWriter.Create(_trace, new TraceWriterOptions { Os = "linux", Source = "replay-test" });
        // Timestamps in nanoseconds: 0, 1 µs, 5 µs, and one out of order (another vCPU's clock) at 4 µs.
        writer.WriteSyscall(SyscallBuilder.Enter("openat").ByProcess("cat", 42).AtTime(1_000_000).WithDecoded("filename", "/etc/shadow").Build());
        writer.WriteSyscall(SyscallBuilder.Enter("read").ByProcess("cat", 42).AtTime(1_001_000).Build());
        writer.WriteSyscall(SyscallBuilder.Enter("socket").ByProcess("cat", 42).AtTime(1_005_000).Build());
        writer.WriteSyscall(SyscallBuilder.Enter("write").ByProcess("sh", 7).OnVcpu(1).AtTime(1_004_000).Build());
    }

    [TearDown]
    public void DeleteTrace() => File.Delete(_trace);

    [Test]
    public void ReplaySyscalls_keeps_the_recorded_gaps_in_scheduler_ticks()
    {
        var scheduler = new TestScheduler();
        var calls = scheduler.ReplaySyscalls(_trace);

        var observer = scheduler.Start(() => calls.Select(c => c.Name));

        // 1 µs is 10 ticks; the first call comes one tick after the subscription at 200 (Microsoft's "now").
        Assert.That(observer.Messages, Is.EqualTo(new[]
        {
            ReactiveTest.OnNext(201, "openat"),
            ReactiveTest.OnNext(210, "read"),
            ReactiveTest.OnNext(250, "socket"),
            ReactiveTest.OnNext(250, "write"),
            ReactiveTest.OnCompleted<string>(250),
        }));
    }

    [Test]
    public void ReplaySyscalls_drives_time_windows_of_a_rule()
    {
        var scheduler = new TestScheduler();
        var calls = scheduler.ReplaySyscalls(_trace);

        // Which calls come within 2 µs (20 ticks) of the shadow open?
        var observer = scheduler.Start(() =>
            calls.Where(c => c.Decoded.TryGetValue("filename", out var f) && f is "/etc/shadow")
                .SelectMany(_ => calls.TakeUntil(Observable.Timer(TimeSpan.FromTicks(20), scheduler)))
                .Select(c => c.Name));

        Assert.That(observer.Messages.Where(m => m.Value.Kind == NotificationKind.OnNext).Select(m => m.Value.Value), Is.EqualTo(new[] { "openat", "read" }));
    }

    [Test]
    public void ReplaySyscalls_is_cold_and_records_each_subscription()
    {
        var scheduler = new TestScheduler();
        var calls = scheduler.ReplaySyscalls(_trace);

        var observer = scheduler.Start(() => calls.Take(1).Concat(calls.Take(1)).Select(c => c.Name));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(observer.Messages.Select(m => m.Time), Is.EqualTo(new[] { 201L, 202L, 202L }));
            Assert.That(calls.Subscriptions, Is.EqualTo(new[] { ReactiveTest.Subscribe(200, 201), ReactiveTest.Subscribe(201, 202) }));
        }
    }

    [Test]
    public void ReplaySyscalls_works_with_marbles_at_a_microsecond_per_frame()
    {
        var scheduler = new TestScheduler().WithFrameTicks(10);
        var calls = scheduler.ReplaySyscalls(_trace);
        var names = new Dictionary<char, string> { ['o'] = "openat", ['r'] = "read", ['s'] = "socket", ['w'] = "write" };

        scheduler.ExpectMarbles(calls.Select(c => c.Name), "or---(sw|)", names);
    }

    [Test]
    public void ReplayEvents_plays_the_raw_events_at_their_times()
    {
        var scheduler = new TestScheduler();

        var observer = scheduler.Start(() => scheduler.ReplayEvents(_trace).Select(e => e.Vcpu));

        Assert.That(observer.Messages.Select(m => (m.Time, m.Value.Kind)), Is.EqualTo(new[]
        {
            (201L, NotificationKind.OnNext),
            (210L, NotificationKind.OnNext),
            (250L, NotificationKind.OnNext),
            (250L, NotificationKind.OnNext),
            (250L, NotificationKind.OnCompleted),
        }));
    }

    [Test]
    public void A_damaged_trace_ends_with_its_TraceFormatException()
    {
        var bytes = File.ReadAllBytes(_trace);
        File.WriteAllBytes(_trace, bytes[..^8]);
        var scheduler = new TestScheduler();

        var observer = scheduler.Start(() => scheduler.ReplaySyscalls(_trace));

        Assert.That(observer.Messages[^1].Value.Exception, Is.InstanceOf<TraceFormatException>());
    }

    [Test]
    public void A_missing_file_throws_at_once()
    {
        var scheduler = new TestScheduler();

        Assert.Throws<FileNotFoundException>(() => scheduler.ReplaySyscalls(_trace + ".missing"));
    }

    [Test]
    public void Replayed_calls_keep_their_decoded_arguments()
    {
        var scheduler = new TestScheduler();

        var observer = scheduler.Start(() => scheduler.ReplaySyscalls(_trace));

        Syscall first = observer.Messages[0].Value.Value;
        Assert.That(first.Decoded["filename"], Is.EqualTo("/etc/shadow"));
    }
}
