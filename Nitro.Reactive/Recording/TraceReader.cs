using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Unicode;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;
using CallingConvention = Nitro.Reactive.Syscalls.CallingConvention;
using Process = Nitro.Reactive.Syscalls.Process;

namespace Nitro.Reactive.Recording;

/// <summary>
/// Reads a trace file (<see cref="TraceFormat"/>) from a <see cref="PipeReader"/> one block at a
/// time and hands each record to an <see cref="ITraceVisitor"/>. Raw events are delivered by
/// reference, without a heap allocation per event.
/// </summary>
/// <remarks>
/// Every length is checked against <see cref="TraceFormat.MaxBlockPayload"/> and the bytes left in
/// its block before anything is allocated or awaited, and both block checksums are verified before
/// any record of the block is delivered. Damage, truncation and unknown versions raise
/// <see cref="TraceFormatException"/> with the offset of the damaged block or record; the records
/// before it have been delivered by then. Not thread-safe: one reader, one consumer.
/// </remarks>
public sealed class TraceReader : IAsyncDisposable, IDisposable
{
    private const int ProcessCacheSlots = 1024;
    private const int MaxCachedProcessBytes = 1024;
    private const int DecodedCacheSlots = 1024;
    private const int MaxCachedDecodedBytes = 512;

    private readonly PipeReader _pipe;
    private readonly string? _fileName;
    private string[] _strings = new string[64];
    private int _stringCount;
    private (byte[]? Section, bool HasParentPid, Process Process)[]? _processes;
    private (byte[] Section, IReadOnlyDictionary<string, object?> Map)[]? _decodedCache;
    private IReadOnlyDictionary<string, object?>?[] _maps = [];
    private int _mapCount;
    private Process[] _processTable = [];
    private int _processCount;

    // The syscall record flags this file's version defines (format 2 adds the map and process ids).
    private int _syscallFlags = TraceFormat.SyscallHasThreadId | TraceFormat.SyscallHasProcess | TraceFormat.SyscallHasParentPid;
    private VcpuState[] _vcpus = [];
    private byte[]? _scratch;
    private TraceHeader? _header;
    private string? _lastConventionName;
    private CallingConvention? _lastConvention;
    private long _offset;
    private uint _sequence;
    private long _events;
    private long _syscalls;
    private bool _ended;
    private bool _disposed;

    /// <summary>Initializes a reader over a pipe. Disposing the reader completes the pipe.</summary>
    /// <param name="reader">The source.</param>
    /// <param name="fileName">The file name for error messages, when known.</param>
    public TraceReader(PipeReader reader, string? fileName = null)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Trace files hold little-endian register images; this host is big-endian.");
        }

        _pipe = reader ?? throw new ArgumentNullException(nameof(reader));
        _fileName = fileName;
    }

    /// <summary>Gets the header, once <see cref="ReadHeaderAsync"/> (or the first block read) has read it.</summary>
    public TraceHeader? Header => _header;

    /// <summary>Gets the totals of the end record, once it was read and checked.</summary>
    public TraceTotals? Totals { get; private set; }

    /// <summary>Gets the absolute offset of the next unread byte.</summary>
    public long Position => _offset;

    /// <summary>Gets the file name used in error messages, when known.</summary>
    public string? FileName => _fileName;

    /// <summary>
    /// Gets or sets a fused <c>WhereSyscall</c> (replay only): syscall records of other calls are
    /// read and checked exactly as always, but not handed to the visitor.
    /// </summary>
    internal SyscallNameFilter? NameFilter { get; set; }

    /// <summary>Gets how many block payloads were checked with a checksum the read-ahead computed.</summary>
    internal int ChecksumsReadAhead { get; private set; }

    /// <summary>Opens a reader over a stream (through <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions?)"/>).</summary>
    /// <param name="stream">The source.</param>
    /// <param name="fileName">The file name for error messages, when known.</param>
    /// <param name="leaveOpen">Whether the stream stays open after the reader is disposed.</param>
    /// <returns>The reader.</returns>
    public static TraceReader Open(Stream stream, string? fileName = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new TraceReader(
            PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 64 * 1024, leaveOpen: leaveOpen)),
            fileName);
    }

    /// <summary>Opens a trace file for reading, read ahead when it is 2 MiB or more and the process has more than one processor.</summary>
    /// <param name="path">The file path.</param>
    /// <returns>The reader, which owns the file.</returns>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static TraceReader OpenFile(string path) => OpenFile(path, readAhead: true);

    /// <summary>Opens a trace file for reading.</summary>
    /// <param name="path">The file path.</param>
    /// <param name="readAhead">
    /// Whether a regular file of 2 MiB or more is read ahead when the process may use more than one
    /// processor: a thread-pool thread reads the next megabytes and computes their block checksums
    /// while the caller decodes (see <see cref="ReplayOptions.ReadAhead"/>). Otherwise, and for
    /// smaller files, FIFOs and devices, the reader reads on the caller's thread.
    /// </param>
    /// <returns>The reader, which owns the file.</returns>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static TraceReader OpenFile(string path, bool readAhead)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        try
        {
            // A regular file is read ahead or inline (a page-cache copy); anything else (a FIFO, a
            // device) through the stream pipe.
            return stream.CanSeek
                ? OpenFile(stream, path, readAhead && ReadAheadFilePipeReader.IsWorthIt(stream.Length))
                : Open(stream, path, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Opens a reader over a regular file's stream, read ahead or inline.</summary>
    internal static TraceReader OpenFile(Stream stream, string path, bool readAhead) =>
        new(readAhead ? new ReadAheadFilePipeReader(stream, leaveOpen: false) : new FilePipeReader(stream, leaveOpen: false), path);

    /// <summary>Reads and checks the file header (once; later calls return it again).</summary>
    /// <param name="cancellationToken">Stops waiting for input.</param>
    /// <returns>The header.</returns>
    /// <exception cref="TraceFormatException">Not a trace, a newer format version, or a damaged header.</exception>
    public async ValueTask<TraceHeader> ReadHeaderAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_header is null)
        {
            var result = await _pipe.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var examined = buffer.End;
            try
            {
                if (TryParseHeader(buffer, result.IsCompleted, out var length))
                {
                    consumed = examined = buffer.GetPosition(length);
                    _offset = length;
                }
            }
            finally
            {
                // Only what was parsed counts as examined after a success, so buffered blocks are read without waiting for more input.
                _pipe.AdvanceTo(consumed, examined);
            }
        }

        return _header;
    }

    /// <summary>Reads the next block and hands its records to <paramref name="visitor"/>.</summary>
    /// <param name="visitor">Receives the records.</param>
    /// <param name="cancellationToken">Stops waiting for input.</param>
    /// <returns><see langword="false"/> once the end record was read and the file was checked to end there.</returns>
    /// <exception cref="TraceFormatException">The file is damaged or truncated at <see cref="TraceFormatException.Offset"/>.</exception>
    public async ValueTask<bool> ReadBlockAsync(ITraceVisitor visitor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_header is null)
        {
            await ReadHeaderAsync(cancellationToken);
        }

        if (_ended)
        {
            return false;
        }

        while (true)
        {
            var result = await _pipe.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var examined = buffer.End;
            bool done;
            try
            {
                done = TryReadBlock(buffer, result.IsCompleted, visitor, out var length);
                if (done)
                {
                    consumed = examined = buffer.GetPosition(length);
                }
            }
            finally
            {
                _pipe.AdvanceTo(consumed, examined);
            }

            if (done)
            {
                break;
            }
        }

        if (_ended)
        {
            await EnsureEndOfFileAsync(cancellationToken);
            return false;
        }

        return true;
    }

    /// <summary>Reads every remaining block, then checks the end record and that the file ends there.</summary>
    /// <param name="visitor">Receives the records.</param>
    /// <param name="cancellationToken">Stops reading between blocks and while waiting for input.</param>
    /// <returns>The totals of the end record.</returns>
    /// <exception cref="TraceFormatException">The file is damaged or truncated at <see cref="TraceFormatException.Offset"/>.</exception>
    public async ValueTask<TraceTotals> ReadToEndAsync(ITraceVisitor visitor, CancellationToken cancellationToken = default)
    {
        while (await ReadBlockAsync(visitor, cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        return Totals!.Value;
    }

    /// <summary>Completes the pipe (closing the stream unless it was opened with leaveOpen).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _pipe.Complete();
        ReturnScratch();
    }

    /// <inheritdoc cref="Dispose"/>
    /// <returns>A task that completes when the pipe is completed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _pipe.CompleteAsync();
        ReturnScratch();
    }

    private void ReturnScratch()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }

    private async ValueTask EnsureEndOfFileAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _pipe.ReadAsync(cancellationToken);
            var length = result.Buffer.Length;
            _pipe.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (length > 0)
            {
                throw Damaged(_offset, $"{(result.IsCompleted ? length.ToString(CultureInfo.InvariantCulture) : "more")} bytes follow the block that holds the end record");
            }

            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private bool TryParseHeader(ReadOnlySequence<byte> buffer, bool isCompleted, out int length)
    {
        length = 0;
        Span<byte> fixedPart = stackalloc byte[TraceFormat.FixedHeaderSize];
        var available = (int)Math.Min(buffer.Length, TraceFormat.FixedHeaderSize);
        buffer.Slice(0, available).CopyTo(fixedPart);
        var magicBytes = Math.Min(available, 8);
        if (!fixedPart[..magicBytes].SequenceEqual(TraceFormat.Magic[..magicBytes]))
        {
            throw Damaged(0, $"this is not a Nitro trace: it starts with {Convert.ToHexString(fixedPart[..magicBytes])} instead of the magic \"NITROTRC\"");
        }

        if (available >= 10)
        {
            var version = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart[8..]);
            if (version > TraceFormat.CurrentVersion)
            {
                throw Damaged(8, $"the trace was written in format version {version}, and this reader knows versions up to {TraceFormat.CurrentVersion}; read it with a newer Nitro.Reactive");
            }

            if (version == 0)
            {
                throw Damaged(8, "format version 0 does not exist");
            }
        }

        if (!TryCheckFixedHeader(fixedPart, buffer.Length, isCompleted, out var flags, out var headerLength))
        {
            return false;
        }

        var rented = ArrayPool<byte>.Shared.Rent((int)headerLength);
        try
        {
            var header = rented.AsSpan(0, (int)headerLength);
            buffer.Slice(0, headerLength).CopyTo(header);
            var checksumAt = header.Length - 4;
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(header[checksumAt..]);
            var computed = Crc32C.Compute(header[..checksumAt]);
            if (stored != computed)
            {
                throw Damaged(0, $"header checksum mismatch (stored 0x{stored:x8}, computed 0x{computed:x8})");
            }

            _header = ParseMetadata(header[..checksumAt], BinaryPrimitives.ReadUInt16LittleEndian(header[8..]), flags);
            if (_header.Version >= 2)
            {
                _syscallFlags |= TraceFormat.SyscallDecodedIsMapId | TraceFormat.SyscallProcessIsId;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        length = (int)headerLength;
        return true;
    }

    private bool TryCheckFixedHeader(ReadOnlySpan<byte> fixedPart, long available, bool isCompleted, out ushort flags, out uint headerLength)
    {
        flags = 0;
        headerLength = 0;
        if (available < TraceFormat.FixedHeaderSize)
        {
            return isCompleted ? throw Damaged(0, $"the file ends after {available} bytes, inside the file header") : false;
        }

        flags = BinaryPrimitives.ReadUInt16LittleEndian(fixedPart[10..]);
        if (flags != 0)
        {
            throw Damaged(10, $"unknown header flags 0x{flags:x4}");
        }

        headerLength = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[12..]);
        if (!TraceFormat.IsValidHeaderLength(headerLength))
        {
            throw Damaged(12, $"header length {headerLength} is outside {TraceFormat.FixedHeaderSize + 4} … {TraceFormat.MaxHeaderLength}");
        }

        if (available < headerLength)
        {
            return isCompleted ? throw Damaged(0, $"the file ends after {available} bytes, inside the {headerLength}-byte file header") : false;
        }

        return true;
    }

    private TraceHeader ParseMetadata(ReadOnlySpan<byte> header, ushort version, ushort flags)
    {
        var count = BinaryPrimitives.ReadUInt16LittleEndian(header[16..]);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var position = TraceFormat.FixedHeaderSize;
        for (var i = 0; i < count; i++)
        {
            var entryAt = position;
            var key = ReadPrefixed16(header, ref position, entryAt);
            var value = ReadPrefixed16(header, ref position, entryAt);
            if (!metadata.TryAdd(key, value))
            {
                throw Damaged(entryAt, $"metadata key '{key}' appears twice");
            }
        }

        if (position != header.Length)
        {
            throw Damaged(position, $"{header.Length - position} bytes between the metadata and the header checksum");
        }

        if (!metadata.TryGetValue(TraceFormat.Keys.CreatedUtc, out var createdText) ||
            !DateTimeOffset.TryParseExact(createdText, "O", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var created))
        {
            throw Damaged(TraceFormat.FixedHeaderSize, $"metadata '{TraceFormat.Keys.CreatedUtc}' is missing or not an ISO 8601 time");
        }

        if (!metadata.TryGetValue(TraceFormat.Keys.MonotonicOrigin, out var originText) ||
            !long.TryParse(originText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var origin))
        {
            throw Damaged(TraceFormat.FixedHeaderSize, $"metadata '{TraceFormat.Keys.MonotonicOrigin}' is missing or not an integer");
        }

        return new TraceHeader(version, flags, header.Length + 4, metadata, created, origin);
    }

    private string ReadPrefixed16(ReadOnlySpan<byte> header, ref int position, int entryAt)
    {
        if (header.Length - position < 2)
        {
            throw Damaged(entryAt, "a metadata entry runs past the end of the header");
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(header[position..]);
        position += 2;
        if (header.Length - position < length)
        {
            throw Damaged(entryAt, $"a metadata string of {length} bytes runs past the end of the header");
        }

        var bytes = header.Slice(position, length);
        position += length;
        return Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : throw Damaged(entryAt, "a metadata string is not valid UTF-8");
    }

    private bool TryReadBlock(ReadOnlySequence<byte> buffer, bool isCompleted, ITraceVisitor visitor, out long length)
    {
        length = 0;
        if (buffer.Length < TraceFormat.BlockHeaderSize)
        {
            if (!isCompleted)
            {
                return false;
            }

            throw buffer.Length == 0
                ? Damaged(_offset, "the file ends without an end record (the recording was cut short)")
                : Damaged(_offset, $"the file ends {buffer.Length} bytes into a block header");
        }

        Span<byte> head = stackalloc byte[TraceFormat.BlockHeaderSize];
        buffer.Slice(0, TraceFormat.BlockHeaderSize).CopyTo(head);
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(head);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        var payloadChecksum = BinaryPrimitives.ReadUInt32LittleEndian(head[12..]);
        CheckBlockHeader(head);
        length = TraceFormat.BlockHeaderSize + payloadLength;
        if (buffer.Length < length)
        {
            if (!isCompleted)
            {
                return false;
            }

            throw Damaged(_offset, $"the file ends {buffer.Length - TraceFormat.BlockHeaderSize} bytes into a block of {payloadLength} bytes");
        }

        var slice = buffer.Slice(TraceFormat.BlockHeaderSize, payloadLength);
        var payload = Payload(slice, (int)payloadLength);

        // A file read ahead has the payload's checksum computed already, over these very bytes.
        if (_pipe is ReadAheadFilePipeReader ahead && ahead.TryGetPayloadChecksum(payload, out var computed))
        {
            ChecksumsReadAhead++;
        }
        else
        {
            computed = Crc32C.Compute(payload);
        }

        if (computed != payloadChecksum)
        {
            throw Damaged(_offset, $"block payload checksum mismatch (stored 0x{payloadChecksum:x8}, computed 0x{computed:x8}): the block is damaged");
        }

        ParseRecords(payload, count, visitor);
        _offset += length;
        _sequence++;
        return true;
    }

    private ReadOnlySpan<byte> Payload(ReadOnlySequence<byte> slice, int payloadLength)
    {
        if (slice.IsSingleSegment)
        {
            return slice.FirstSpan;
        }

        if (_scratch is null || _scratch.Length < payloadLength)
        {
            ReturnScratch();
            _scratch = ArrayPool<byte>.Shared.Rent(payloadLength);
        }

        slice.CopyTo(_scratch);
        return _scratch.AsSpan(0, payloadLength);
    }

    private void CheckBlockHeader(ReadOnlySpan<byte> head)
    {
        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(head);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        var sequence = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
        var headChecksum = BinaryPrimitives.ReadUInt32LittleEndian(head[16..]);
        if (!TraceFormat.IsValidBlockPayload(payloadLength))
        {
            throw Damaged(_offset, $"block length {payloadLength} is outside 1 … {TraceFormat.MaxBlockPayload} bytes");
        }

        if (count == 0 || count > payloadLength / TraceFormat.RecordHeaderSize)
        {
            throw Damaged(_offset, $"block record count {count} is impossible for a {payloadLength}-byte block");
        }

        var computedHead = Crc32C.Compute(head[..16]);
        if (computedHead != headChecksum)
        {
            throw Damaged(_offset, $"block header checksum mismatch (stored 0x{headChecksum:x8}, computed 0x{computedHead:x8})");
        }

        if (sequence != _sequence)
        {
            throw Damaged(_offset, $"block number {sequence} where block {_sequence} was expected (a block is missing or repeated)");
        }

    }

    private void ParseRecords(ReadOnlySpan<byte> payload, uint count, ITraceVisitor visitor)
    {
        try
        {
            ParseRecordsCore(payload, count, visitor);
        }
        finally
        {
            KeepPendingRegisters(payload);
        }
    }

    /// <summary>
    /// Copies the registers of each vCPU's last event of the block out of the payload: events
    /// leave them there while the block is parsed, so that one whose call is dropped (or that has
    /// no call) costs no copy, and the next block may reuse the buffer.
    /// </summary>
    private void KeepPendingRegisters(ReadOnlySpan<byte> payload)
    {
        var vcpus = _vcpus;
        for (var v = 0; v < vcpus.Length; v++)
        {
            ref var state = ref vcpus[v];
            if (state.RegistersAt != 0)
            {
                state.Registers = MemoryMarshal.Read<Registers>(payload.Slice(state.RegistersAt - 1, Registers.Size));
                state.RegistersAt = 0;
            }
        }
    }

    private void ParseRecordsCore(ReadOnlySpan<byte> payload, uint count, ITraceVisitor visitor)
    {
        var blockOffset = _offset;
        var position = 0;
        uint seen = 0;
        while (position < payload.Length)
        {
            var recordOffset = blockOffset + TraceFormat.BlockHeaderSize + position;
            if (payload.Length - position < TraceFormat.RecordHeaderSize)
            {
                throw Damaged(recordOffset, "a record header is cut off by the end of its block");
            }

            var kind = (RecordKind)payload[position];
            var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(payload[(position + 1)..]);
            var left = payload.Length - position - TraceFormat.RecordHeaderSize;
            if (bodyLength > (uint)left)
            {
                ThrowRecordTooLong(recordOffset, bodyLength, left);
            }

            if (_ended)
            {
                throw Damaged(recordOffset, "a record follows the end record");
            }

            var body = payload.Slice(position + TraceFormat.RecordHeaderSize, (int)bodyLength);
            switch (kind)
            {
                case RecordKind.Event:
                    ReadEvent(body, position + TraceFormat.RecordHeaderSize, recordOffset, visitor);
                    break;
                case RecordKind.Syscall:
                    ReadSyscall(body, payload, recordOffset, visitor);
                    break;
                case RecordKind.String:
                    ReadString(body, recordOffset);
                    break;
                case RecordKind.End:
                    ReadEnd(body, recordOffset);
                    break;
                case RecordKind.Map when _header!.Version >= 2:
                    ReadMapRecord(body, recordOffset);
                    break;
                case RecordKind.Process when _header!.Version >= 2:
                    ReadProcessRecord(body, recordOffset);
                    break;
                default:
                    ThrowUnknownKind(recordOffset, kind);
                    break;
            }

            position += TraceFormat.RecordHeaderSize + (int)bodyLength;
            seen++;
        }

        if (seen != count)
        {
            ThrowCountMismatch(blockOffset, count, seen);
        }
    }

    private void ReadEvent(ReadOnlySpan<byte> body, int bodyAt, long recordOffset, ITraceVisitor visitor)
    {
        if (body.Length != TraceFormat.EventFixedSize && body.Length != TraceFormat.EventWithSregsSize)
        {
            ThrowEventLength(recordOffset, body.Length);
        }

        // u16 vcpu, u8 direction, u8 mechanism, u8 flags, 3 reserved zero bytes: one read, one mask
        // for "direction, mechanism and flags are 0 or 1 and the reserved bytes are 0".
        var head = BinaryPrimitives.ReadUInt64LittleEndian(body);
        var vcpu = (ushort)head;
        var direction = (byte)(head >> 16);
        var mechanism = (byte)(head >> 24);
        var flags = (byte)(head >> 32);
        var withSregs = flags == TraceFormat.EventHasSpecialRegisters;
        if (vcpu >= TraceFormat.MaxVcpus || (head & 0xFFFF_FFFE_FEFE_0000UL) != 0 || withSregs != (body.Length == TraceFormat.EventWithSregsSize))
        {
            ThrowEventFields(recordOffset, vcpu, direction, mechanism, flags);
        }

        ref var state = ref Vcpu(vcpu);
        if (!withSregs && !state.HasSpecialRegisters)
        {
            ThrowFirstEventWithoutSpecialRegisters(recordOffset, vcpu);
        }

        // The registers stay in the payload until the block ends (KeepPendingRegisters).
        state.RegistersAt = bodyAt + 16 + 1;
        if (withSregs)
        {
            state.SpecialRegisters = MemoryMarshal.Read<SpecialRegisters>(body[TraceFormat.EventFixedSize..]);
            state.HasSpecialRegisters = true;
        }

        state.Timestamp = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        state.Direction = (SyscallDirection)direction;
        state.Mechanism = (SyscallMechanism)mechanism;
        state.Changed = withSregs;
        state.Offset = recordOffset;
        _events++;
        visitor.OnEvent(new TraceEventView(
            vcpu, state.Direction, state.Mechanism, state.Timestamp, withSregs, recordOffset, in MemoryMarshal.AsRef<Registers>(body.Slice(16, Registers.Size)), in state.SpecialRegisters));
    }

    private void ReadSyscall(ReadOnlySpan<byte> body, ReadOnlySpan<byte> payload, long recordOffset, ITraceVisitor visitor)
    {
        var reader = new BodyReader(this, body, recordOffset);
        if (!TryReadSyscallHead(body, out var head))
        {
            ReadSyscallHead(ref reader, recordOffset, out head);
        }
        else
        {
            reader.Position = SyscallHead.Size;
        }

        var flags = head.Flags;
        long? threadId = (flags & TraceFormat.SyscallHasThreadId) != 0 ? reader.Int64() : null;
        Process? process = null;
        if ((flags & TraceFormat.SyscallProcessIsId) != 0)
        {
            process = ReadProcessId(ref reader, flags, recordOffset);
        }
        else if ((flags & TraceFormat.SyscallHasProcess) != 0)
        {
            process = ReadProcess(ref reader, body, (flags & TraceFormat.SyscallHasParentPid) != 0);
        }

        var decoded = (flags & TraceFormat.SyscallDecodedIsMapId) != 0 ? ReadMapId(ref reader, recordOffset) : ReadDecoded(ref reader, body);
        if (!reader.AtEnd)
        {
            ThrowSyscallLeftOver(recordOffset);
        }

        _syscalls++;
        if (NameFilter is { } filter && !filter.Wants(head.NameId, head.Name))
        {
            // Checked as a delivered record would be at its Emit, so that disposal stops the read here too.
            filter.CancellationToken.ThrowIfCancellationRequested();
            return;
        }

        var vcpu = head.Vcpu;
        ref var state = ref _vcpus[vcpu];
        var record = new TraceSyscallRecord(vcpu, head.Number, head.Name, head.FullName, head.Convention, threadId, process, decoded, recordOffset);
        ref readonly var registers = ref state.RegistersAt != 0
            ? ref MemoryMarshal.AsRef<Registers>(payload.Slice(state.RegistersAt - 1, Registers.Size))
            : ref state.Registers;
        visitor.OnSyscall(new TraceEventView(vcpu, state.Direction, state.Mechanism, state.Timestamp, state.Changed, state.Offset, in registers, in state.SpecialRegisters), in record);
    }

    /// <summary>
    /// The fixed fields of an ordinary system call record (a known vCPU, known flags, three
    /// interned strings, the last calling convention or another known one) in one read. Anything
    /// else returns <see langword="false"/> having changed nothing, and the record goes through
    /// <see cref="ReadSyscallHead"/>, which reads the same fields one by one and fails where they are damaged.
    /// </summary>
    private bool TryReadSyscallHead(ReadOnlySpan<byte> body, out SyscallFields head)
    {
        head = default;
        if (body.Length < SyscallHead.Size)
        {
            return false;
        }

        var raw = MemoryMarshal.Read<SyscallHead>(body);
        var defined = (uint)_stringCount;
        if (raw.Vcpu >= (uint)_vcpus.Length || !_vcpus[raw.Vcpu].HasSpecialRegisters || (raw.Flags & ~_syscallFlags) != 0 || raw.Reserved != 0 ||
            raw.Name >= defined || raw.FullName >= defined || raw.Convention >= defined)
        {
            return false;
        }

        var strings = _strings;
        var conventionName = strings[raw.Convention];
        if (!ReferenceEquals(conventionName, _lastConventionName))
        {
            if (!CallingConvention.TryGetByName(conventionName, out var found))
            {
                return false;
            }

            (_lastConventionName, _lastConvention) = (conventionName, found);
        }

        head = new SyscallFields(raw.Vcpu, raw.Flags, raw.Number, raw.Name, strings[raw.Name], strings[raw.FullName], _lastConvention!);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadSyscallHead(ref BodyReader reader, long recordOffset, out SyscallFields head)
    {
        var vcpu = reader.UInt16();
        var flags = reader.Byte();
        var reserved = reader.Byte();
        if (vcpu >= _vcpus.Length || !_vcpus[vcpu].HasSpecialRegisters)
        {
            ThrowSyscallWithoutEvent(recordOffset, vcpu);
        }

        if ((flags & ~_syscallFlags) != 0 || reserved != 0)
        {
            ThrowSyscallFlags(recordOffset, flags);
        }

        var number = reader.Int64();
        var name = reader.Str(out var nameId);
        var fullName = reader.Str();
        var conventionName = reader.Str();
        if (!ReferenceEquals(conventionName, _lastConventionName))
        {
            if (!CallingConvention.TryGetByName(conventionName, out var found))
            {
                ThrowUnknownConvention(recordOffset, conventionName);
            }

            (_lastConventionName, _lastConvention) = (conventionName, found);
        }

        head = new SyscallFields(vcpu, flags, number, nameId, name, fullName, _lastConvention!);
    }

    /// <summary>
    /// Reads the process section. A process whose section is byte-identical to the last one seen
    /// for its pid is the same object again: no dictionary, string or box is allocated for it.
    /// </summary>
    private Process ReadProcess(ref BodyReader reader, ReadOnlySpan<byte> body, bool hasParentPid)
    {
        var start = reader.Position;
        var pid = reader.Int32();

        // Bytes equal to a section read before parse the same way (the string table only grows),
        // so a repeated process needs no parsing at all. Direct-mapped by pid: the last section
        // seen for that pid, or for another pid of the same slot (then a miss).
        var cache = _processes ??= new (byte[]?, bool, Process)[ProcessCacheSlots];
        ref var known = ref cache[pid & (ProcessCacheSlots - 1)];
        if (known.Section is { } knownSection && known.HasParentPid == hasParentPid && body[start..].StartsWith(knownSection))
        {
            reader.Position = start + knownSection.Length;
            return known.Process;
        }

        var name = reader.Str();
        int? parentPid = hasParentPid ? reader.Int32() : null;
        var process = new Process(pid, name, parentPid, reader.Map());
        var section = body[start..reader.Position];
        if (section.Length <= MaxCachedProcessBytes)
        {
            known = (section.ToArray(), hasParentPid, process);
        }

        return process;
    }

    /// <summary>
    /// Reads the decoded-values map. Calls repeat their decoded values a lot (the same paths,
    /// descriptors, sizes): a map byte-identical to one in the direct-mapped cache is that same
    /// immutable map again, with no string decoded and nothing allocated. Maps holding arrays
    /// (mutable) and large maps are decoded every time.
    /// </summary>
    private IReadOnlyDictionary<string, object?>? ReadDecoded(ref BodyReader reader, ReadOnlySpan<byte> body)
    {
        // The map is the record's last field, so a well-formed map is the rest of the body. Bytes
        // equal to a map decoded before decode the same way (the string table only grows), so a
        // hit needs no parsing; anything else, damage included, goes through the full decoder.
        var start = reader.Position;
        var section = body[start..];
        if (section.Length <= 2 || section.Length > MaxCachedDecodedBytes)
        {
            return reader.Map();
        }

        var cache = _decodedCache ??= new (byte[], IReadOnlyDictionary<string, object?>)[DecodedCacheSlots];
        ref var slot = ref cache[SlotHash(section) & (DecodedCacheSlots - 1)];
        if (slot.Section is not null && section.SequenceEqual(slot.Section))
        {
            reader.Position = body.Length;
            return slot.Map;
        }

        var map = reader.Map();
        if (reader.AtEnd && map is SmallMap small && small.HasOnlyImmutableValues())
        {
            slot = (section.ToArray(), small);
        }

        return map;
    }

    /// <summary>
    /// A cheap hash for picking a cache slot: CRC-32C over 8-byte words (one instruction each)
    /// where the processor has it, else a multiply-xor mix. Equality is always checked on the bytes.
    /// </summary>
    private static int SlotHash(ReadOnlySpan<byte> bytes)
    {
        if (!Sse42.X64.IsSupported || bytes.Length < 8)
        {
            return PortableSlotHash(bytes);
        }

        // Three independent crc32 chains (latency 3, throughput 1), then the last 8 bytes, which
        // may overlap words already hashed: the length is hashed too, so this stays a function
        // of the bytes.
        ulong a = (uint)bytes.Length, b = 0, c = 0;
        var words = bytes;
        while (words.Length >= 24)
        {
            a = Sse42.X64.Crc32(a, BinaryPrimitives.ReadUInt64LittleEndian(words));
            b = Sse42.X64.Crc32(b, BinaryPrimitives.ReadUInt64LittleEndian(words[8..]));
            c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(words[16..]));
            words = words[24..];
        }

        while (words.Length >= 8)
        {
            a = Sse42.X64.Crc32(a, BinaryPrimitives.ReadUInt64LittleEndian(words));
            words = words[8..];
        }

        b = Sse42.X64.Crc32(b, BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..]));
        var hash = a ^ (b << 21) ^ (c << 42) ^ (c >> 22);
        return (int)(hash ^ (hash >> 32) ^ (hash >> 13));
    }

    private static int PortableSlotHash(ReadOnlySpan<byte> bytes)
    {
        ulong hash = (uint)bytes.Length;
        var words = bytes;
        while (words.Length >= 8)
        {
            hash = (hash ^ BinaryPrimitives.ReadUInt64LittleEndian(words)) * 0x9E3779B97F4A7C15UL;
            words = words[8..];
        }

        ulong tail = 0;
        for (var i = 0; i < words.Length; i++)
        {
            tail |= (ulong)words[i] << (8 * i);
        }

        hash = (hash ^ tail) * 0x9E3779B97F4A7C15UL;
        return (int)(hash ^ (hash >> 32) ^ (hash >> 13));
    }

    /// <summary>A decoded map by its id (format 2): defined by a map record before, shared by every call that names it.</summary>
    private IReadOnlyDictionary<string, object?>? ReadMapId(ref BodyReader reader, long recordOffset)
    {
        var id = reader.UInt32();
        if (id >= (uint)_mapCount)
        {
            ThrowUndefinedMap(recordOffset, id);
        }

        return _maps[id];
    }

    /// <summary>A process by its id (format 2): defined by a process record before, shared by every call that names it.</summary>
    private Process ReadProcessId(ref BodyReader reader, byte flags, long recordOffset)
    {
        // The process record holds the parent pid; "process id" comes with "process" and without "parent pid".
        if ((flags & (TraceFormat.SyscallHasProcess | TraceFormat.SyscallHasParentPid)) != TraceFormat.SyscallHasProcess)
        {
            throw Damaged(recordOffset, $"a system call record with flags 0x{flags:x2}: a process id (16) comes with the process flag (2) and without the parent-pid flag (4)");
        }

        var id = reader.UInt32();
        if (id >= (uint)_processCount)
        {
            ThrowUndefinedProcess(recordOffset, id);
        }

        return _processTable[id];
    }

    private void ReadProcessRecord(ReadOnlySpan<byte> body, long recordOffset)
    {
        if (body.Length < 15 || body.Length - 5 > TraceFormat.MaxInternedProcessBytes)
        {
            throw Damaged(recordOffset, $"a process record of {body.Length} bytes (15 … {TraceFormat.MaxInternedProcessBytes + 5})");
        }

        var id = NextTableId(body, _processCount, TraceFormat.MaxInternedProcesses, "process", recordOffset);

        var flags = body[4];
        if ((flags & ~TraceFormat.SyscallHasParentPid) != 0)
        {
            throw Damaged(recordOffset, $"a process record with unknown flags 0x{flags:x2}");
        }

        var reader = new BodyReader(this, body, recordOffset) { Position = 5 };
        var pid = reader.Int32();
        var name = reader.Str();
        int? parentPid = flags != 0 ? reader.Int32() : null;
        var properties = reader.Map();
        if (!reader.AtEnd)
        {
            throw Damaged(recordOffset, "a process record has bytes left over after its last property");
        }

        CheckShareable(properties, $"process {id}", recordOffset);
        AddToTable(ref _processTable, ref _processCount, new Process(pid, name, parentPid, properties));
    }

    private void ReadMapRecord(ReadOnlySpan<byte> body, long recordOffset)
    {
        if (body.Length < 6 || body.Length - 4 > TraceFormat.MaxInternedMapBytes)
        {
            throw Damaged(recordOffset, $"a map record of {body.Length} bytes (6 … {TraceFormat.MaxInternedMapBytes + 4})");
        }

        var id = NextTableId(body, _mapCount, TraceFormat.MaxInternedMaps, "map", recordOffset);

        var reader = new BodyReader(this, body, recordOffset) { Position = 4 };
        var map = reader.Map();
        if (!reader.AtEnd)
        {
            throw Damaged(recordOffset, "a map record has bytes left over after its last entry");
        }

        CheckShareable(map, $"map {id}", recordOffset);
        AddToTable(ref _maps, ref _mapCount, map);
    }

    private static void AddToTable<T>(ref T[] table, ref int count, T item)
    {
        if (count == table.Length)
        {
            Array.Resize(ref table, Math.Max(64, table.Length * 2));
        }

        table[count++] = item;
    }

    /// <summary>The id a string, map or process record defines, which must be the next one.</summary>
    private uint NextTableId(ReadOnlySpan<byte> body, int count, int max, string what, long recordOffset)
    {
        var id = BinaryPrimitives.ReadUInt32LittleEndian(body);
        return id == (uint)count && count < max
            ? id
            : throw Damaged(recordOffset, $"{what} id {id} is out of order (expected {count}, at most {max})");
    }

    /// <summary>Every call naming a map or process record gets the same object: nothing in it may be changeable.</summary>
    private void CheckShareable(IReadOnlyDictionary<string, object?>? map, string what, long recordOffset)
    {
        if (map is not null && (map is not SmallMap small || !small.HasOnlyImmutableValues()))
        {
            throw Damaged(recordOffset, $"{what} holds an array or more than {SmallMap.MaxCount} entries, which a record that calls share may not");
        }
    }

    private void ReadString(ReadOnlySpan<byte> body, long recordOffset)
    {
        if (body.Length < 4 || body.Length - 4 > TraceFormat.MaxInternedStringBytes)
        {
            throw Damaged(recordOffset, $"a string record of {body.Length} bytes (at most {TraceFormat.MaxInternedStringBytes + 4})");
        }

        var id = NextTableId(body, _stringCount, TraceFormat.MaxInternedStrings, "string", recordOffset);
        var bytes = body[4..];
        if (!Utf8.IsValid(bytes))
        {
            throw Damaged(recordOffset, $"string {id} is not valid UTF-8");
        }

        AddToTable(ref _strings, ref _stringCount, Encoding.UTF8.GetString(bytes));
    }

    private void ReadEnd(ReadOnlySpan<byte> body, long recordOffset)
    {
        if (body.Length != TraceFormat.EndBodySize)
        {
            throw Damaged(recordOffset, $"an end record of {body.Length} bytes (expected {TraceFormat.EndBodySize})");
        }

        var events = BinaryPrimitives.ReadUInt64LittleEndian(body);
        var syscalls = BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
        var strings = BinaryPrimitives.ReadUInt64LittleEndian(body[16..]);
        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(body[24..]);
        if (events != (ulong)_events || syscalls != (ulong)_syscalls || strings != (ulong)_stringCount || sequence != _sequence)
        {
            throw Damaged(recordOffset,
                $"the end record counts {events} events, {syscalls} system calls, {strings} strings in block {sequence}, but the file holds {_events}, {_syscalls}, {_stringCount} and this is block {_sequence}");
        }

        _ended = true;
        Totals = new TraceTotals(_events, _syscalls, _stringCount, _sequence + 1);
    }

    private ref VcpuState Vcpu(int vcpu)
    {
        if (vcpu >= _vcpus.Length)
        {
            Array.Resize(ref _vcpus, Math.Min(TraceFormat.MaxVcpus, Math.Max(vcpu + 1, _vcpus.Length * 2)));
        }

        return ref _vcpus[vcpu];
    }

    private TraceFormatException Damaged(long offset, string problem) => new(problem, offset, _fileName);

    // Throw helpers for the per-record paths: kept out of line so that the hot methods do not
    // carry (and zero on every call) the locals of the message formatting.
    [DoesNotReturn]
    private void ThrowRecordTooLong(long offset, uint bodyLength, int left) =>
        throw Damaged(offset, $"record length {bodyLength} exceeds the {left} bytes left in its block");

    [DoesNotReturn]
    private void ThrowUnknownKind(long offset, RecordKind kind) => throw Damaged(offset, $"unknown record kind {(byte)kind}");

    [DoesNotReturn]
    private void ThrowCountMismatch(long offset, uint count, uint seen) =>
        throw Damaged(offset, $"the block header says {count} records but the block holds {seen}");

    [DoesNotReturn]
    private void ThrowEventLength(long offset, int length) =>
        throw Damaged(offset, $"an event record of {length} bytes (expected {TraceFormat.EventFixedSize} or {TraceFormat.EventWithSregsSize})");

    [DoesNotReturn]
    private void ThrowEventFields(long offset, ushort vcpu, byte direction, byte mechanism, byte flags) =>
        throw Damaged(offset, $"an event record with invalid fields (vcpu {vcpu}, direction {direction}, mechanism {mechanism}, flags 0x{flags:x2})");

    [DoesNotReturn]
    private void ThrowFirstEventWithoutSpecialRegisters(long offset, ushort vcpu) =>
        throw Damaged(offset, $"the first event of vCPU {vcpu} lacks its special registers");

    [DoesNotReturn]
    private void ThrowSyscallWithoutEvent(long offset, ushort vcpu) =>
        throw Damaged(offset, $"a system call record for vCPU {vcpu}, which has no event before it");

    [DoesNotReturn]
    private void ThrowSyscallFlags(long offset, byte flags) => throw Damaged(offset, $"a system call record with unknown flags 0x{flags:x2}");

    [DoesNotReturn]
    private void ThrowUndefinedProcess(long offset, uint id) => throw Damaged(offset, $"a system call record names process {id}, which no process record before it defines");

    [DoesNotReturn]
    private void ThrowUndefinedMap(long offset, uint id) => throw Damaged(offset, $"a system call record names map {id}, which no map record before it defines");

    [DoesNotReturn]
    private void ThrowSyscallLeftOver(long offset) => throw Damaged(offset, "a system call record has bytes left over after its last field");

    [DoesNotReturn]
    private void ThrowUnknownConvention(long offset, string name) => throw Damaged(offset, $"unknown calling convention '{name}'");

    /// <summary>The fixed start of a system call record: vcpu, flags, reserved, number and three string ids.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private readonly struct SyscallHead
    {
        public const int Size = 24;

        public readonly ushort Vcpu;
        public readonly byte Flags;
        public readonly byte Reserved;
        public readonly long Number;
        public readonly uint Name;
        public readonly uint FullName;
        public readonly uint Convention;
    }

    private readonly record struct SyscallFields(int Vcpu, byte Flags, long Number, uint NameId, string Name, string FullName, CallingConvention Convention);

    private struct VcpuState
    {
        public Registers Registers;
        public SpecialRegisters SpecialRegisters;

        // 1 + the payload position of the registers of this vCPU's last event while they are still
        // only in the current block's payload; 0 once they are in Registers.
        public int RegistersAt;
        public long Timestamp;
        public long Offset;
        public SyscallDirection Direction;
        public SyscallMechanism Mechanism;
        public bool HasSpecialRegisters;
        public bool Changed;
    }

    private ref struct BodyReader
    {
        private readonly TraceReader _owner;
        private readonly ReadOnlySpan<byte> _body;
        private readonly long _recordOffset;
        private int _position;

        public BodyReader(TraceReader owner, ReadOnlySpan<byte> body, long recordOffset)
        {
            _owner = owner;
            _body = body;
            _recordOffset = recordOffset;
            _position = 0;
        }

        public readonly bool AtEnd => _position == _body.Length;

        public int Position
        {
            readonly get => _position;
            set => _position = value;
        }

        public byte Byte() => Take(1)[0];

        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public string Str() => Str(out _);

        public string Str(out uint id)
        {
            id = UInt32();
            if (id == TraceFormat.InlineString)
            {
                return Inline();
            }

            if (id >= (uint)_owner._stringCount)
            {
                ThrowUndefinedString(id);
            }

            return _owner._strings[id];
        }

        public string Inline()
        {
            var bytes = Take(UInt32());
            return Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : throw Fail("a string is not valid UTF-8");
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        public IReadOnlyDictionary<string, object?>? Map()
        {
            var count = UInt16();
            if (count == 0)
            {
                return null;
            }

            if (count <= SmallMap.MaxCount)
            {
                var entries = new KeyValuePair<string, object?>[count];
                for (var i = 0; i < count; i++)
                {
                    var key = Str();
                    for (var j = 0; j < i; j++)
                    {
                        if (string.Equals(entries[j].Key, key, StringComparison.Ordinal))
                        {
                            throw Fail($"key '{key}' appears twice");
                        }
                    }

                    entries[i] = new(key, Value());
                }

                return new SmallMap(entries);
            }

            var map = new Dictionary<string, object?>(Math.Min(count, (_body.Length - _position) / 5), StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                var key = Str();
                if (!map.TryAdd(key, Value()))
                {
                    throw Fail($"key '{key}' appears twice");
                }
            }

            return map;
        }

        private object? Value()
        {
            var tag = (ValueTag)Byte();
            switch (tag)
            {
                case ValueTag.Null:
                    return null;
                case ValueTag.Int64:
                    return BoxedIntegers.Box(Int64());
                case ValueTag.UInt64:
                    return UInt64();
                case ValueTag.Int32:
                    return Int32();
                case ValueTag.Boolean:
                    var flag = Byte();
                    return flag <= 1 ? flag == 1 : throw Fail($"boolean byte {flag}");
                case ValueTag.String:
                    return Inline();
                case ValueTag.Bytes:
                    return Take(UInt32()).ToArray();
                case ValueTag.StringArray:
                    var count = UInt32();
                    if (count > (uint)(_body.Length - _position) / 4)
                    {
                        throw Fail($"a string array of {count} items cannot fit in the record");
                    }

                    var items = new string[count];
                    for (var i = 0; i < items.Length; i++)
                    {
                        items[i] = Inline();
                    }

                    return items;
                case ValueTag.Unreadable:
                    var address = UInt64();
                    return new Unreadable(address, Inline());
                default:
                    throw Fail($"unknown value tag {(byte)tag}");
            }
        }

        private ReadOnlySpan<byte> Take(uint count)
        {
            if (count > (uint)(_body.Length - _position))
            {
                ThrowPastEnd(count);
            }

            var span = _body.Slice(_position, (int)count);
            _position += (int)count;
            return span;
        }

        [DoesNotReturn]
        private readonly TraceFormatException Fail(string problem) => throw _owner.Damaged(_recordOffset, problem);

        [DoesNotReturn]
        private readonly void ThrowPastEnd(uint count) =>
            throw Fail($"a field of {count} bytes runs past the end of the record ({_body.Length - _position} bytes left)");

        [DoesNotReturn]
        private readonly void ThrowUndefinedString(uint id) =>
            throw Fail($"string id {id} is not defined (the trace has defined {_owner._stringCount} so far)");
    }
}
