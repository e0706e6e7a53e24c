using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

public sealed class TraceReplayTests
{
    private static readonly DateTimeOffset s_start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Test]
    public async Task Events_replay_every_event_as_fast_as_possible()
    {
        var events = TraceTestData.Events(300, 2, seed: 31);
        using var stream = new MemoryStream(WriteEvents(events, blockSize: 4096));

        var replayed = await TraceReplay.Events(stream).ToList();

        Assert.That(replayed, Has.Count.EqualTo(300));
        Assert.That(replayed.Select(e => e.Registers), Is.EqualTo(events.Select(e => e.Registers)));
        Assert.That(replayed.Select(e => e.SpecialRegisters), Is.EqualTo(events.Select(e => e.SpecialRegisters)));
        Assert.That(replayed.All(e => e.Handle is null), "replayed events have no live vCPU");
    }

    [Test]
    public async Task Syscalls_replay_rebuilds_calls_with_events_arguments_processes_and_decoded_values()
    {
        var syscalls = TraceTestData.Syscalls(100, seed: 32);
        using var stream = new MemoryStream(WriteSyscalls(syscalls, blockSize: 4096));

        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed, Has.Count.EqualTo(100));
        for (var i = 0; i < replayed.Count; i++)
        {
            var (expected, actual) = (syscalls[i], replayed[i]);
            Assert.That((actual.Name, actual.FullName, actual.Number, actual.ThreadId, actual.Vcpu, actual.Direction, actual.ReturnValue),
                Is.EqualTo((expected.Name, expected.FullName, expected.Number, expected.ThreadId, expected.Vcpu, expected.Direction, expected.ReturnValue)));
            Assert.That(actual.Event.Registers, Is.EqualTo(expected.Event.Registers));
            Assert.That(actual.Arguments.Convention, Is.SameAs(expected.Arguments.Convention));
            Assert.That(actual.Arguments[0], Is.EqualTo(expected.Arguments[0]));
            Assert.That(actual.Arguments.CanReadMemory, Is.False);
            Assert.That(actual.Process, Is.EqualTo(expected.Process));
            if (expected.Process is not null)
            {
                Assert.That(actual.Process!.Properties, Is.EquivalentTo(expected.Process.Properties));
            }
            Assert.That(actual.Decoded.Keys, Is.EquivalentTo(expected.Decoded.Keys));
            Assert.That(actual.Decoded.GetValueOrDefault("filename"), Is.EqualTo(expected.Decoded.GetValueOrDefault("filename")));
            Assert.That(actual.Decoded.GetValueOrDefault("bad"), Is.EqualTo(expected.Decoded.GetValueOrDefault("bad")));
        }
    }

    [Test]
    public void Timed_replay_keeps_the_recorded_gaps_in_virtual_time()
    {
        var events = TraceTestData.Events(4, 1, seed: 33, step: 5_000_000);
        using var stream = new MemoryStream(WriteEvents(events));
        var scheduler = new HistoricalScheduler(s_start);
        var arrivals = new List<(TimeSpan At, long Timestamp)>();

        using var subscription = TraceReplay.Events(stream, ReplayOptions.Timed(scheduler))
            .Subscribe(e => arrivals.Add((scheduler.Now - s_start, e.Timestamp)));
        Assert.That(arrivals, Has.Count.EqualTo(1), "the first event is due at once");
        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(4.9));
        Assert.That(arrivals, Has.Count.EqualTo(1), "the second event is not due before 5 ms");
        scheduler.AdvanceBy(TimeSpan.FromMilliseconds(20));

        Assert.That(arrivals.Select(a => a.At), Is.EqualTo(new[] { 0, 5, 10, 15 }.Select(ms => TimeSpan.FromMilliseconds(ms))));
        Assert.That(arrivals.Select(a => a.Timestamp), Is.EqualTo(events.Select(e => e.Timestamp)));
    }

    [Test]
    public void Timed_replay_applies_the_speed_factor()
    {
        var syscalls = TraceTestData.Syscalls(3, seed: 34);
        using var stream = new MemoryStream(WriteSyscalls(syscalls));
        var gaps = syscalls.Skip(1).Select((s, i) => TimeSpan.FromTicks((s.Event.Timestamp - syscalls[0].Event.Timestamp) / 100 / 4)).ToList();
        var scheduler = new HistoricalScheduler(s_start);
        var arrivals = new List<TimeSpan>();

        using var subscription = TraceReplay.Syscalls(stream, ReplayOptions.Timed(scheduler, speed: 4)).Subscribe(_ => arrivals.Add(scheduler.Now - s_start));
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1));

        Assert.That(arrivals, Is.EqualTo(new[] { TimeSpan.Zero }.Concat(gaps)));
    }

    [Test]
    public async Task Timed_replay_on_the_default_scheduler_takes_real_time()
    {
        var events = TraceTestData.Events(3, 1, seed: 35, step: 30_000_000);
        using var stream = new MemoryStream(WriteEvents(events));
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();

        var count = await TraceReplay.Events(stream, ReplayOptions.Timed(DefaultScheduler.Instance)).Count();

        Assert.That(count, Is.EqualTo(3));
        Assert.That(stopwatch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(55)));
    }

    [Test]
    public void Fast_replay_is_the_default_and_ignores_gaps()
    {
        var events = TraceTestData.Events(5, 1, seed: 36, step: 3_600_000_000_000);
        using var stream = new MemoryStream(WriteEvents(events));

        var list = TraceReplay.Events(stream).ToList().Wait();

        Assert.That(list, Has.Count.EqualTo(5), "an hour between events does not slow a fast replay");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Damage_ends_the_stream_with_OnError_after_every_intact_record(bool timed)
    {
        var file = WriteEvents(TraceTestData.Events(200, 2, seed: 37, step: 1), blockSize: 2048);
        var blocks = BlockOffsets(file);
        file[blocks[4] + 30] ^= 0xFF;
        using var stream = new MemoryStream(file);
        var scheduler = new HistoricalScheduler(s_start);
        var received = new List<NitroEvent>();
        Exception? error = null;
        var options = timed ? ReplayOptions.Timed(scheduler) : new ReplayOptions { FileName = "damaged.nitrotrace" };

        using var ended = new ManualResetEventSlim();
        using var subscription = TraceReplay.Events(stream, options).Subscribe(received.Add, ex => { error = ex; ended.Set(); }, ended.Set);
        scheduler.AdvanceBy(TimeSpan.FromSeconds(1));
        Assert.That(ended.Wait(TimeSpan.FromSeconds(10)), Is.True);

        var expected = new CollectingVisitor();
        _ = TryReadAll(file, expected);
        Assert.That(error, Is.TypeOf<TraceFormatException>());
        Assert.That(((TraceFormatException)error!).Offset, Is.EqualTo(blocks[4]));
        Assert.That(received.Select(e => e.Timestamp), Is.EqualTo(expected.Events.Select(e => e.Timestamp)));
        Assert.That(received, Is.Not.Empty);
        if (!timed)
        {
            Assert.That(error!.Message, Does.Contain("damaged.nitrotrace"));
        }
    }

    [Test]
    public async Task A_file_replay_names_the_file_in_errors_and_closes_it_after_disposal()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-replay-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            await File.WriteAllBytesAsync(path, WriteEvents(TraceTestData.Events(100, 1, seed: 38), blockSize: 1024)[..^5]);

            var error = Assert.ThrowsAsync<TraceFormatException>(async () => await TraceReplay.Events(path).LastAsync());
            var firstThree = await TraceReplay.Events(path).Take(3).ToList();

            Assert.That(error!.FileName, Is.EqualTo(path));
            Assert.That(firstThree, Has.Count.EqualTo(3));
            Assert.That(await CanOpenExclusivelyAsync(path), Is.True, "the replay closed the file");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task A_trace_written_to_a_file_replays_its_syscalls_from_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-file-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            var syscalls = TraceTestData.Syscalls(25, seed: 42);
            using (var writer = TraceWriter.Create(path, new TraceWriterOptions { Os = "linux", BlockSize = 1024 }))
            {
                foreach (var s in syscalls)
                {
                    writer.WriteSyscall(s);
                }
            }

            var replayed = await TraceReplay.Syscalls(path).ToList();
            using var reader = TraceReader.OpenFile(path);
            var header = await reader.ReadHeaderAsync();

            Assert.That(replayed.Select(s => (s.Name, s.Number, s.Event.Timestamp)), Is.EqualTo(syscalls.Select(s => (s.Name, s.Number, s.Event.Timestamp))));
            Assert.That(header.Os, Is.EqualTo("linux"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task A_file_of_blocks_larger_than_one_read_replays_as_its_stream_does_and_every_cut_fails_cleanly()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-file-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            var file = WriteSyscalls(TraceTestData.Syscalls(2500, seed: 43), blockSize: 200 * 1024);
            await File.WriteAllBytesAsync(path, file);
            using var stream = new MemoryStream(file);

            var fromFile = await TraceReplay.Syscalls(path).ToList();
            var fromStream = await TraceReplay.Syscalls(stream).ToList();

            Assert.That(fromFile.Select(s => (s.Name, s.Number, s.Event.Timestamp, s.Event.Registers.Rax)),
                Is.EqualTo(fromStream.Select(s => (s.Name, s.Number, s.Event.Timestamp, s.Event.Registers.Rax))));
            foreach (var cut in new[] { 10, 100, 70_000, 200_000, 300_000, file.Length - 1 })
            {
                await File.WriteAllBytesAsync(path, file.AsSpan(0, cut).ToArray());
                var delivered = 0;
                var error = Assert.ThrowsAsync<TraceFormatException>(async () => await TraceReplay.Syscalls(path).Do(_ => delivered++).LastOrDefaultAsync(), $"cut at {cut}");
                Assert.That(error!.FileName, Is.EqualTo(path));
                Assert.That(delivered, Is.LessThan(fromStream.Count));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Disposal_stops_reading_a_large_trace()
    {
        var file = WriteEvents(TraceTestData.Events(20_000, 2, seed: 39), blockSize: 16 * 1024);
        using var stream = new CountingStream(file);

        var first = await TraceReplay.Events(stream).Take(10).ToList();
        var readAfterDisposal = stream.BytesRead;
        await Task.Delay(50);

        Assert.That(first, Has.Count.EqualTo(10));
        Assert.That(readAfterDisposal, Is.LessThan(file.Length / 4));
        Assert.That(stream.BytesRead, Is.EqualTo(readAfterDisposal), "nothing is read after disposal");
    }

    [Test]
    public async Task Disposal_cancels_a_pending_read()
    {
        var header = Header();
        using var stream = new HangingStream(header);
        var subscription = TraceReplay.Events(stream).Subscribe(_ => { }, _ => { });
        await stream.Hanging.Task.WaitAsync(TimeSpan.FromSeconds(5));

        subscription.Dispose();

        Assert.That(await stream.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task RecordTo_passes_events_and_syscalls_through_and_writes_them()
    {
        var syscalls = TraceTestData.Syscalls(40, seed: 40);
        var events = TraceTestData.Events(30, 3, seed: 41);
        using var stream = new MemoryStream();
        IList<Syscall> passedSyscalls;
        IList<NitroEvent> passedEvents;
        await using (var writer = new TraceWriter(stream, Options()))
        {
            passedEvents = await events.ToObservable().RecordTo(writer).ToList();
            passedSyscalls = await syscalls.ToObservable().RecordTo(writer).ToList();
        }

        var read = ReadAll(stream.ToArray(), out var totals);
        Assert.That(passedEvents, Is.EqualTo(events).AsCollection);
        Assert.That(passedSyscalls, Is.EqualTo(syscalls).AsCollection);
        Assert.That((totals.Events, totals.Syscalls), Is.EqualTo((70L, 40L)));
        Assert.That(read.Syscalls.Select(s => s.Record.Name), Is.EqualTo(syscalls.Select(s => s.Name)));
    }

    private static async Task<bool> CanOpenExclusivelyAsync(string path)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                await using var exclusive = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return true;
            }
            catch (IOException)
            {
                await Task.Delay(20);
            }
        }

        return false;
    }

    private sealed class HangingStream(byte[] prefix) : Stream
    {
        private int _position;

        public TaskCompletionSource Hanging { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsMemory(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }

            Hanging.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult(true);
                throw;
            }

            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
