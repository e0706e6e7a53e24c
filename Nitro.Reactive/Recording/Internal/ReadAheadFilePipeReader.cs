using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.ExceptionServices;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// A <see cref="PipeReader"/> over a regular trace file that reads ahead on a thread-pool thread:
/// while the consumer decodes one chunk, a work item reads the next ones from the file and
/// computes the CRC-32C of every block payload in them. <see cref="TraceReader"/> takes those
/// checksums (<see cref="TryGetPayloadChecksum"/>) instead of computing them, and still compares
/// them with the stored ones itself, so the file's I/O and checksumming overlap the decoding.
/// </summary>
/// <remarks>
/// <para>The bytes handed out are the file's bytes, in order, unchanged: the producer follows the
/// block chain only to cut chunks at block boundaries (so a block is contiguous and never copied)
/// and to know which bytes a checksum covers. A checksum is computed over the very bytes the
/// consumer is handed, so it is right whatever the file holds. Where the chain makes no sense (a
/// damaged length, a truncated file, bytes after the end record) the producer passes the rest of
/// the file on as raw bytes without checksums, and the reader fails on it exactly as it does
/// reading inline.</para>
/// <para>At most <see cref="ChunkCount"/> chunks of <see cref="ChunkCapacity"/> bytes are in
/// flight. The work item runs only while a chunk is free and returns its thread to the pool
/// otherwise, so a reader that is never completed holds no thread. <see cref="Complete"/> waits
/// for a running read to finish before it closes the file (not for a work item still queued: that
/// one finds the reader completed and does nothing). An I/O error reaches the consumer
/// after the bytes read before it, when it asks for more.</para>
/// </remarks>
internal sealed class ReadAheadFilePipeReader : ContiguousPipeReader
{
    /// <summary>The files worth a read-ahead: smaller ones are read inline (no work item to start).</summary>
    internal const long MinimumLength = 2 * 1024 * 1024;

    /// <summary>Every valid block fits an empty chunk, and the first chunk fits the file header too.</summary>
    internal const int ChunkCapacity = TraceFormat.MaxHeaderLength + TraceFormat.BlockHeaderSize + TraceFormat.MaxBlockPayload;

    /// <summary>One chunk being decoded, the others read ahead.</summary>
    internal const int ChunkCount = 3;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ConcurrentQueue<Chunk> _ready = new();
    private readonly SemaphoreSlim _readyCount = new(0);
    private readonly ConcurrentQueue<Chunk> _free = new();
    private readonly object _gate = new();

    // Producer state: only the running work item touches it.
    private readonly byte[] _nextHead = new byte[TraceFormat.BlockHeaderSize];
    private bool _nextHeadRead;
    private long _fileOffset;
    private Stage _stage = Stage.Header;

    // Under _gate: whether a work item is queued or running, whether it is filling a chunk (using
    // the stream), and whether Complete was called.
    private bool _scheduled;
    private bool _filling;
    private bool _completed;

    // Set by the producer once the file has ended (or failed): nothing left to schedule.
    private volatile bool _fileDone;

    // Consumer state: the chunk handed out (the base class's window is its bytes).
    private Chunk? _current;
    private int _checksumIndex;

    public ReadAheadFilePipeReader(Stream stream, bool leaveOpen)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        for (var i = 0; i < ChunkCount; i++)
        {
            _free.Enqueue(new Chunk(ArrayPool<byte>.Shared.Rent(ChunkCapacity), pooled: true));
        }

        Schedule();
    }

    /// <summary>
    /// Whether reading a file of <paramref name="length"/> bytes ahead can pay: it is large enough,
    /// and the process has a second processor to read on (with one, the read-ahead only adds work).
    /// </summary>
    public static bool IsWorthIt(long length) => length >= MinimumLength && Environment.ProcessorCount > 1;

    private enum Stage
    {
        Header,
        Blocks,
        Raw,
        Done,
    }

    /// <summary>
    /// Gets the CRC-32C of <paramref name="payload"/> when it is a block payload of the chunk now
    /// handed out (the same memory, not just the same offset) whose checksum the read-ahead computed.
    /// </summary>
    public bool TryGetPayloadChecksum(ReadOnlySpan<byte> payload, out uint checksum)
    {
        checksum = 0;
        if (_current is not { } chunk || chunk.Checksums.Count == 0)
        {
            return false;
        }

        var at = Unsafe.ByteOffset(ref MemoryMarshal.GetArrayDataReference(chunk.Buffer), ref MemoryMarshal.GetReference(payload));
        if (at < 0 || at > chunk.Length - payload.Length)
        {
            return false;
        }

        var offset = chunk.FileOffset + at;
        var checksums = chunk.Checksums;
        for (; _checksumIndex < checksums.Count; _checksumIndex++)
        {
            var entry = checksums[_checksumIndex];
            if (entry.Offset >= offset)
            {
                if (entry.Offset != offset || entry.Length != payload.Length)
                {
                    return false;
                }

                checksum = entry.Checksum;
                return true;
            }
        }

        return false;
    }

    public override void Complete(Exception? exception = null)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            IsCompleted = true;

            // A running read finishes its chunk and stops; a work item that has not started yet
            // will find the reader completed and touch nothing.
            while (_filling)
            {
                Monitor.Wait(_gate);
            }
        }

        if (!_leaveOpen)
        {
            _stream.Dispose();
        }

        if (_current is not null)
        {
            Return(_current);
            _current = null;
        }

        while (_ready.TryDequeue(out var chunk))
        {
            Return(chunk);
        }

        while (_free.TryDequeue(out var chunk))
        {
            Return(chunk);
        }

        _readyCount.Dispose();
    }

    private static void Return(Chunk chunk)
    {
        if (chunk.Buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
            chunk.Buffer = [];
        }
    }

    /// <summary>
    /// Moves to the next chunk, keeping the unconsumed bytes of this one in front of it (a
    /// copy, which only damaged files need: intact chunks end at a block boundary).
    /// </summary>
    protected override void Fill(CancellationToken cancellationToken)
    {
        var current = _current;
        if (current is not null)
        {
            current.Error?.Throw();
        }

        _readyCount.Wait(cancellationToken);
        _ready.TryDequeue(out var next);
        var left = current is null ? 0 : End - Start;
        if (left > 0)
        {
            var merged = new Chunk(ArrayPool<byte>.Shared.Rent(left + next!.Length), pooled: false)
            {
                FileOffset = current!.FileOffset + Start,
                Length = left + next.Length,
                End = next.End,
                Error = next.Error,
            };
            current.Buffer.AsSpan(Start, left).CopyTo(merged.Buffer);
            next.Buffer.AsSpan(0, next.Length).CopyTo(merged.Buffer.AsSpan(left));
            merged.Checksums.AddRange(next.Checksums);
            Release(next);
            next = merged;
        }

        if (current is not null)
        {
            Release(current);
        }

        _current = next!;
        _checksumIndex = 0;
        SetWindow(next!.Buffer, 0, next.Length, isEnd: next.End && next.Error is null);
    }

    /// <summary>Gives a chunk the consumer is done with back to the producer (or its array back to the pool).</summary>
    private void Release(Chunk chunk)
    {
        if (!chunk.Pooled)
        {
            Return(chunk);
            return;
        }

        _free.Enqueue(chunk);
        Schedule();
    }

    private void Schedule()
    {
        lock (_gate)
        {
            if (_scheduled || _completed || _fileDone)
            {
                return;
            }

            _scheduled = true;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static reader => reader.Produce(), this, preferLocal: false);
    }

    /// <summary>Fills free chunks until none is left, the file ends, or the reader is completed.</summary>
    private void Produce()
    {
        while (true)
        {
            Chunk? chunk;
            lock (_gate)
            {
                if (_completed || _fileDone || !_free.TryDequeue(out chunk))
                {
                    _scheduled = false;
                    return;
                }

                _filling = true;
            }

            Fill(chunk);
            lock (_gate)
            {
                _filling = false;
                if (_completed)
                {
                    // Complete has waited for this chunk and handed the others back; this one is ours.
                    Monitor.PulseAll(_gate);
                    _scheduled = false;
                    Return(chunk);
                    return;
                }

                // Under the lock, so that Complete cannot dispose the semaphore in between.
                _ready.Enqueue(chunk);
                _readyCount.Release();
            }
        }
    }

    private void Fill(Chunk chunk)
    {
        chunk.FileOffset = _fileOffset;
        chunk.Length = 0;
        chunk.End = false;
        chunk.Error = null;
        chunk.Checksums.Clear();
        try
        {
            if (_stage == Stage.Header)
            {
                FillHeader(chunk);
            }

            if (_stage == Stage.Blocks)
            {
                FillBlocks(chunk);
            }

            if (_stage == Stage.Raw)
            {
                FillRaw(chunk);
            }
        }
        catch (Exception ex)
        {
            // Whatever the read threw, the consumer raises where it would have read inline.
            chunk.Error = ExceptionDispatchInfo.Capture(ex);
            _stage = Stage.Done;
        }

        chunk.End = _stage == Stage.Done;
        _fileDone = chunk.End;
        _fileOffset += chunk.Length;
    }

    private void FillHeader(Chunk chunk)
    {
        if (!Read(chunk, TraceFormat.HeaderLengthEnd))
        {
            return;
        }

        var headerLength = BinaryPrimitives.ReadUInt32LittleEndian(chunk.Buffer.AsSpan(TraceFormat.HeaderLengthEnd - 4));
        if (!TraceFormat.IsValidHeaderLength(headerLength))
        {
            _stage = Stage.Raw;
            return;
        }

        if (Read(chunk, (int)headerLength - TraceFormat.HeaderLengthEnd))
        {
            _stage = Stage.Blocks;
        }
    }

    /// <summary>Whole blocks, each payload's checksum computed, until the next one does not fit.</summary>
    private void FillBlocks(Chunk chunk)
    {
        while (true)
        {
            if (!_nextHeadRead)
            {
                var got = _stream.ReadAtLeast(_nextHead, _nextHead.Length, throwOnEndOfStream: false);
                if (got < _nextHead.Length)
                {
                    // The file ends in a block header (or right after a block): the bytes as they are.
                    Append(chunk, _nextHead.AsSpan(0, got));
                    _stage = Stage.Done;
                    return;
                }

                _nextHeadRead = true;
            }

            var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(_nextHead);
            if (!TraceFormat.IsValidBlockPayload(payloadLength))
            {
                Append(chunk, _nextHead);
                _nextHeadRead = false;
                _stage = Stage.Raw;
                return;
            }

            if (chunk.Length + TraceFormat.BlockHeaderSize + payloadLength > ChunkCapacity)
            {
                // Never for an empty chunk: every valid block fits one.
                return;
            }

            Append(chunk, _nextHead);
            _nextHeadRead = false;
            var payloadAt = chunk.Length;
            if (!Read(chunk, (int)payloadLength))
            {
                return;
            }

            chunk.Checksums.Add(new PayloadChecksum(
                chunk.FileOffset + payloadAt, (int)payloadLength, Crc32C.Compute(chunk.Buffer.AsSpan(payloadAt, (int)payloadLength))));
        }
    }

    private void FillRaw(Chunk chunk)
    {
        var read = _stream.Read(chunk.Buffer, chunk.Length, ChunkCapacity - chunk.Length);
        chunk.Length += read;
        if (read == 0)
        {
            _stage = Stage.Done;
        }
    }

    private static void Append(Chunk chunk, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(chunk.Buffer.AsSpan(chunk.Length));
        chunk.Length += bytes.Length;
    }

    /// <summary>Reads <paramref name="count"/> bytes onto the chunk; at the end of the file, what there is, and the stage is done.</summary>
    private bool Read(Chunk chunk, int count)
    {
        var got = _stream.ReadAtLeast(chunk.Buffer.AsSpan(chunk.Length, count), count, throwOnEndOfStream: false);
        chunk.Length += got;
        if (got < count)
        {
            _stage = Stage.Done;
            return false;
        }

        return true;
    }

    private readonly record struct PayloadChecksum(long Offset, int Length, uint Checksum);

    private sealed class Chunk(byte[] buffer, bool pooled)
    {
        public byte[] Buffer { get; set; } = buffer;

        public bool Pooled { get; } = pooled;

        public long FileOffset { get; set; }

        public int Length { get; set; }

        /// <summary>Gets or sets whether the file ends with this chunk.</summary>
        public bool End { get; set; }

        /// <summary>Gets or sets the read error that ended the file here, raised once the chunk's bytes are consumed.</summary>
        public ExceptionDispatchInfo? Error { get; set; }

        public List<PayloadChecksum> Checksums { get; } = [];
    }
}
