using System.Buffers;
using System.Buffers.Binary;
using System.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Recording.Internal;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>
/// The read-ahead of large trace files: the bytes it hands out are the file's, the checksums it
/// computes are those of the bytes handed out, and a damaged, failing or abandoned file behaves as
/// it does read inline.
/// </summary>
public sealed class ReadAheadFilePipeReaderTests
{
    private static readonly Lazy<byte[]> s_large = new(() => WriteSyscalls(TraceTestData.Syscalls(12_000, seed: 500), blockSize: 200 * 1024));

    private static IEnumerable<TestCaseData> Files()
    {
        yield return new TestCaseData("intact, 200 KiB blocks", s_large.Value);
        yield return new TestCaseData("intact, 16 KiB blocks", WriteSyscalls(TraceTestData.Syscalls(9_000, seed: 501), blockSize: 16 * 1024));
        yield return new TestCaseData("intact, 1 MiB blocks", WriteSyscalls(TraceTestData.Syscalls(12_000, seed: 502), blockSize: TraceFormat.MaxBlockPayload));
        yield return new TestCaseData("random bytes", RandomBytes(new Random(503), 3 << 20));
        yield return new TestCaseData("a huge block length", WithUInt32(s_large.Value, BlockOffsets(s_large.Value)[5], 0xFFFF_FFF0));
        yield return new TestCaseData("a zero block length", WithUInt32(s_large.Value, BlockOffsets(s_large.Value)[2], 0));
        yield return new TestCaseData("a bad header length", WithUInt32(s_large.Value, 12, 5));
        yield return new TestCaseData("cut inside a block", s_large.Value[..(BlockOffsets(s_large.Value)[7] + 1000)]);
        yield return new TestCaseData("cut inside a block header", s_large.Value[..(BlockOffsets(s_large.Value)[7] + 9)]);
        yield return new TestCaseData("bytes after the end", Concat(s_large.Value, RandomBytes(new Random(504), 70_000)));
        yield return new TestCaseData("empty", Array.Empty<byte>());
    }

    [TestCaseSource(nameof(Files))]
    public async Task Hands_out_the_file_bytes_in_order_unchanged(string what, byte[] file)
    {
        var rng = new Random(file.Length);
        var handedOut = new List<byte>(file.Length);
        var reader = new ReadAheadFilePipeReader(new MemoryStream(file), leaveOpen: false);
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                if (result.IsCompleted && buffer.IsEmpty)
                {
                    reader.AdvanceTo(buffer.End);
                    break;
                }

                // Consume a part, all of it, or nothing and ask for more, as a parser would.
                var take = rng.Next(3) switch
                {
                    0 => 0,
                    1 => buffer.Length,
                    _ => rng.NextInt64(buffer.Length + 1),
                };
                handedOut.AddRange(buffer.Slice(0, take).ToArray());
                reader.AdvanceTo(buffer.GetPosition(take), take == 0 || result.IsCompleted ? buffer.End : buffer.GetPosition(take));
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }

        Assert.That(handedOut.Count, Is.EqualTo(file.Length), what);
        Assert.That(handedOut.SequenceEqual(file), Is.True, what);
    }

    [Test]
    public void An_intact_file_takes_every_payload_checksum_from_the_read_ahead()
    {
        var file = s_large.Value;
        var inline = ReadInline(file);
        using var reader = TraceReader.OpenFile(new MemoryStream(file), "large", readAhead: true);
        var visitor = new CollectingVisitor { KeepObjects = false };

        reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();

        Assert.That(visitor.Fingerprints, Is.EqualTo(inline.Visitor.Fingerprints));
        Assert.That(reader.ChecksumsReadAhead, Is.EqualTo(BlockOffsets(file).Count), "no block's checksum was computed twice");
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task OpenFile_reads_a_large_file_ahead_only_when_asked(bool readAhead)
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-readahead-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            await File.WriteAllBytesAsync(path, s_large.Value);
            var visitor = new CollectingVisitor { KeepObjects = false };
            using var reader = TraceReader.OpenFile(path, readAhead);

            await reader.ReadToEndAsync(visitor);

            Assert.That(visitor.Fingerprints, Is.EqualTo(ReadInline(s_large.Value).Visitor.Fingerprints));
            // With one processor there is nothing to read ahead on.
            var expected = readAhead && Environment.ProcessorCount > 1 ? BlockOffsets(s_large.Value).Count : 0;
            Assert.That(reader.ChecksumsReadAhead, Is.EqualTo(expected));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Damaged_large_files_fail_as_they_do_read_inline()
    {
        var templates = new[]
        {
            TraceMutationTests.MakeTemplate(s_large.Value),
            TraceMutationTests.MakeTemplate(WriteSyscalls(TraceTestData.Syscalls(9_000, seed: 505), blockSize: 16 * 1024)),
            TraceMutationTests.MakeTemplate(WriteSyscalls(TraceTestData.Syscalls(12_000, seed: 506), blockSize: TraceFormat.MaxBlockPayload)),
        };
        var differences = new List<string>();
        var failed = 0;
        for (var seed = 0; seed < 240; seed++)
        {
            var rng = new Random(seed);
            var template = templates[seed % templates.Length];
            var damaged = TraceMutationTests.Mutate(template, rng.Next(8), rng, out _);

            var inline = ReadInline(damaged);
            var ahead = ReadAhead(damaged);

            failed += inline.Error is null ? 0 : 1;
            // The same records, then the same problem at the same offset (a checksum mismatch names the computed checksum).
            if (!ahead.Visitor.Fingerprints.SequenceEqual(inline.Visitor.Fingerprints) || Problem(ahead.Error) != Problem(inline.Error))
            {
                differences.Add($"seed {seed}: inline delivered {inline.Visitor.Fingerprints.Count} and failed with '{Problem(inline.Error)}', " +
                    $"read ahead delivered {ahead.Visitor.Fingerprints.Count} and failed with '{Problem(ahead.Error)}'");
            }
        }

        Assert.That(differences, Is.Empty);
        Assert.That(failed, Is.GreaterThan(200), "the damage was found");
    }

    [Test]
    public void A_read_error_reaches_the_reader_after_the_records_before_it()
    {
        var file = s_large.Value;
        var failAt = BlockOffsets(file)[6] + 5000;

        var inline = Read(new TraceReader(new FilePipeReader(new FailingStream(file, failAt), leaveOpen: false)));
        var ahead = Read(TraceReader.OpenFile(new FailingStream(file, failAt), "failing", readAhead: true));

        Assert.That(inline.Error, Is.InstanceOf<IOException>());
        Assert.That(ahead.Error, Is.InstanceOf<IOException>());
        Assert.That(ahead.Error!.Message, Is.EqualTo(inline.Error!.Message));
        Assert.That(ahead.Visitor.Fingerprints, Is.EqualTo(inline.Visitor.Fingerprints));
        Assert.That(ahead.Visitor.Fingerprints, Is.Not.Empty);
    }

    [Test]
    public async Task Completing_waits_for_a_running_read_and_nothing_is_read_after()
    {
        using var stream = new TrackingStream(s_large.Value, readDelay: TimeSpan.FromMilliseconds(30), maxRead: 64 * 1024);
        var reader = new ReadAheadFilePipeReader(stream, leaveOpen: true);
        var first = await reader.ReadAsync();
        reader.AdvanceTo(first.Buffer.Start);
        Assert.That(first.Buffer.Length, Is.GreaterThan(0));

        await reader.CompleteAsync();
        var readsAtCompletion = stream.Reads;
        await Task.Delay(200);

        Assert.That(stream.ReadsRunning, Is.Zero, "no read is running once Complete returned");
        Assert.That(stream.Reads, Is.EqualTo(readsAtCompletion), "nothing is read after Complete");
        Assert.That(stream.Position, Is.LessThanOrEqualTo(ReadAheadFilePipeReader.ChunkCount * ReadAheadFilePipeReader.ChunkCapacity), "the read-ahead is bounded");
    }

    [Test]
    public async Task Completing_at_any_moment_leaves_no_read_running_and_the_file_closed()
    {
        var rng = new Random(507);
        for (var i = 0; i < 300; i++)
        {
            var stream = new TrackingStream(s_large.Value, readDelay: TimeSpan.Zero, maxRead: int.MaxValue);
            var reader = new ReadAheadFilePipeReader(stream, leaveOpen: false);
            if (i % 3 == 1)
            {
                var first = await reader.ReadAsync();
                reader.AdvanceTo(first.Buffer.GetPosition(first.Buffer.Length / 2), first.Buffer.End);
            }

            Thread.SpinWait(rng.Next(0, 200_000));
            reader.Complete();
            await Task.Delay(rng.Next(0, 2));

            Assert.That(stream.ReadsRunning, Is.Zero, $"round {i}: a read is running after Complete");
            Assert.That(stream.IsDisposed, Is.True, $"round {i}: the file is closed");
            Assert.That(stream.ReadsAfterDisposal, Is.Zero, $"round {i}: read after Complete");
        }
    }

    [Test]
    public async Task A_large_trace_file_replays_as_its_stream_does_and_disposal_closes_it()
    {
        var file = s_large.Value;
        Assert.That(file.Length, Is.GreaterThan(ReadAheadFilePipeReader.MinimumLength), "the file is read ahead");
        var path = Path.Combine(Path.GetTempPath(), $"nitro-readahead-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            await File.WriteAllBytesAsync(path, file);

            var fromFile = await TraceReplay.Syscalls(path).ToList();
            var fromStream = await TraceReplay.Syscalls(new MemoryStream(file)).ToList();

            Assert.That(fromFile.Select(s => (s.Name, s.Number, s.Timestamp, s.Event.Registers, s.ThreadId)),
                Is.EqualTo(fromStream.Select(s => (s.Name, s.Number, s.Timestamp, s.Event.Registers, s.ThreadId))));

            var gate = new ManualResetEventSlim(false);
            var delivering = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (TraceReplay.Syscalls(path).Subscribe(_ => { delivering.TrySetResult(); gate.Wait(); }, _ => { }))
            {
                await delivering.Task.WaitAsync(TimeSpan.FromSeconds(10));
                Assert.That(IsOpenElsewhere(path), Is.True, "the replay holds the file open");
                gate.Set();
            }

            var first = await TraceReplay.Syscalls(path).Take(10).ToList();
            Assert.That(first, Has.Count.EqualTo(10));
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (IsOpenElsewhere(path) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.That(IsOpenElsewhere(path), Is.False, "disposal closed the file");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string? Problem(Exception? error) =>
        error is TraceFormatException format ? $"{format.Offset}: {format.Problem}" : error?.Message;

    /// <summary>Whether another handle holds the file (an exclusive open fails while one does).</summary>
    private static bool IsOpenElsewhere(string path)
    {
        try
        {
            using var exclusive = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static byte[] WithUInt32(byte[] file, int at, uint value)
    {
        var copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), value);
        return copy;
    }

    private static (CollectingVisitor Visitor, Exception? Error) ReadInline(byte[] file) => Read(TraceReader.Open(new MemoryStream(file)));

    private static (CollectingVisitor Visitor, Exception? Error) ReadAhead(byte[] file) => Read(TraceReader.OpenFile(new MemoryStream(file), "damaged", readAhead: true));

    private static (CollectingVisitor Visitor, Exception? Error) Read(TraceReader reader)
    {
        var visitor = new CollectingVisitor { KeepObjects = false };
        using (reader)
        {
            try
            {
                reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
                return (visitor, null);
            }
            catch (Exception ex) when (ex is TraceFormatException or IOException)
            {
                return (visitor, ex);
            }
        }
    }

    /// <summary>A file whose read fails with an I/O error at a given offset.</summary>
    private sealed class FailingStream(byte[] data, int failAt) : MemoryStream(data, writable: false)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position >= failAt)
            {
                throw new IOException($"device error at {Position}");
            }

            return base.Read(buffer, offset, (int)Math.Min(count, failAt - Position));
        }

        public override int Read(Span<byte> buffer) => ReadThroughArray(this, buffer);
    }

    /// <summary>
    /// A file whose reads take <paramref name="readDelay"/> (a spin when zero) and return at most
    /// <paramref name="maxRead"/> bytes, which counts its reads, those running, and those after its disposal.
    /// </summary>
    private sealed class TrackingStream(byte[] data, TimeSpan readDelay, int maxRead) : MemoryStream(data, writable: false)
    {
        private int _reads;
        private int _running;
        private int _afterDisposal;
        private volatile bool _disposed;

        public int Reads => Volatile.Read(ref _reads);

        public int ReadsRunning => Volatile.Read(ref _running);

        public int ReadsAfterDisposal => Volatile.Read(ref _afterDisposal);

        public bool IsDisposed => _disposed;

        public override int Read(byte[] buffer, int offset, int count)
        {
            Interlocked.Increment(ref _reads);
            Interlocked.Increment(ref _running);
            try
            {
                if (_disposed)
                {
                    Interlocked.Increment(ref _afterDisposal);
                }

                if (readDelay > TimeSpan.Zero)
                {
                    Thread.Sleep(readDelay);
                }
                else
                {
                    Thread.SpinWait(2_000);
                }

                return base.Read(buffer, offset, Math.Min(count, maxRead));
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }

        public override int Read(Span<byte> buffer) => ReadThroughArray(this, buffer);

        protected override void Dispose(bool disposing)
        {
            _disposed = true;
            base.Dispose(disposing);
        }
    }

    private static int ReadThroughArray(Stream stream, Span<byte> buffer)
    {
        var scratch = new byte[buffer.Length];
        var read = stream.Read(scratch, 0, scratch.Length);
        scratch.AsSpan(0, read).CopyTo(buffer);
        return read;
    }
}
