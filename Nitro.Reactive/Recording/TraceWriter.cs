using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording;

/// <summary>
/// Writes raw events and decoded system calls into a trace file (<see cref="TraceFormat"/>)
/// through a <see cref="PipeWriter"/>.
/// </summary>
/// <remarks>
/// Calls are serialized by an internal gate, so one writer may record the event streams of
/// several vCPU listener threads and a syscall stream at once (Rx already serializes calls
/// within one stream). Records are collected into a block; a full block is checksummed and
/// handed to the pipe, which is flushed synchronously (the calling thread waits for slow
/// storage: back-pressure, not loss). <see cref="FlushAsync"/> closes the current block early;
/// <see cref="Complete"/>, <see cref="Dispose"/> and <see cref="DisposeAsync"/> write the end
/// record that marks the file as whole. A file without it is reported as truncated.
/// </remarks>
public sealed class TraceWriter : IDisposable, IAsyncDisposable
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    private readonly PipeWriter _pipe;
    private readonly int _blockTarget;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, uint> _interned = new(StringComparer.Ordinal);

    // Decoded maps by their serialized bytes (format 2): a map written before is written again as
    // its id, so a reader takes it from its table instead of comparing or decoding bytes.
    private readonly Dictionary<byte[], uint> _maps = new(ByteSectionComparer.Instance);

    // Processes the same way, by their serialized sections, one table per parent-pid flag (the
    // flag says how the bytes parse); the ids are shared, so the two counts together are the next id.
    private readonly Dictionary<byte[], uint>[] _processes = [new(ByteSectionComparer.Instance), new(ByteSectionComparer.Instance)];

    private byte[] _block;
    private int _blockLength;
    private int _blockRecords;
    private uint _sequence;
    private byte[] _scratch;
    private int _scratchLength;
    private SpecialRegisters[] _lastSregs = [];

    // Per vCPU: the last event written, when it is an object (a replayed call's event that was
    // never built is not), and whether any event was, so that _lastSregs holds its registers.
    private NitroEvent?[] _lastEvent = [];
    private bool[] _wroteEvent = [];
    private ulong _events;
    private ulong _syscalls;
    private bool _completed;

    /// <summary>Initializes a writer over a stream (through <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions?)"/>) and writes the header.</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="options">Header metadata and block size.</param>
    /// <exception cref="ArgumentException">The metadata does not fit in a header.</exception>
    public TraceWriter(Stream stream, TraceWriterOptions? options = null)
        : this(PipeWriter.Create(stream ?? throw new ArgumentNullException(nameof(stream)), new StreamPipeWriterOptions(leaveOpen: options?.LeaveOpen ?? false)), options)
    {
    }

    /// <summary>Initializes a writer over a pipe and writes the header. Completing the writer completes the pipe.</summary>
    /// <param name="writer">The destination pipe.</param>
    /// <param name="options">Header metadata and block size.</param>
    /// <exception cref="ArgumentException">The metadata does not fit in a header.</exception>
    public TraceWriter(PipeWriter writer, TraceWriterOptions? options = null)
    {
        _pipe = writer ?? throw new ArgumentNullException(nameof(writer));
        options ??= new TraceWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BlockSize, 256, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.BlockSize, TraceFormat.MaxBlockPayload, nameof(options));
        _blockTarget = options.BlockSize;
        _block = ArrayPool<byte>.Shared.Rent(TraceFormat.MaxBlockPayload);
        _scratch = ArrayPool<byte>.Shared.Rent(4096);
        WriteHeader(options);
    }

    /// <summary>Gets the number of event records written so far.</summary>
    public long EventCount => (long)_events;

    /// <summary>Gets the number of syscall records written so far.</summary>
    public long SyscallCount => (long)_syscalls;

    /// <summary>Creates (or overwrites) a trace file.</summary>
    /// <param name="path">The file path.</param>
    /// <param name="options">Header metadata and block size.</param>
    /// <returns>The writer, which owns the file.</returns>
    public static TraceWriter Create(string path, TraceWriterOptions? options = null)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        try
        {
            return new TraceWriter(stream, new TraceWriterOptions
            {
                Os = options?.Os ?? "unknown",
                Kernel = options?.Kernel ?? "unknown",
                Vcpus = options?.Vcpus ?? 0,
                Source = options?.Source ?? "unknown",
                Metadata = options?.Metadata,
                CreatedUtc = options?.CreatedUtc,
                MonotonicOrigin = options?.MonotonicOrigin,
                BlockSize = options?.BlockSize ?? 256 * 1024,
                LeaveOpen = false,
            });
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends a raw event; its special registers are stored only if they changed since this vCPU's previous event.</summary>
    /// <param name="event">The event.</param>
    /// <exception cref="ObjectDisposedException">The writer was completed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The vCPU index is at or above <see cref="TraceFormat.MaxVcpus"/>.</exception>
    public void WriteEvent(NitroEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        _gate.Wait();
        try
        {
            ThrowIfCompleted();
            WriteEventCore(@event.Vcpu, @event.Direction, @event.Mechanism, @event.Timestamp, in @event.Registers, in @event.SpecialRegisters, @event);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Appends a decoded system call, preceded by its event unless that event is already the
    /// last one written for the vCPU.
    /// </summary>
    /// <param name="syscall">The system call.</param>
    /// <exception cref="ObjectDisposedException">The writer was completed.</exception>
    /// <exception cref="ArgumentException">The record would exceed the block limit (decoded values too large) or has more than 65535 entries.</exception>
    public void WriteSyscall(Syscall syscall)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        _gate.Wait();
        try
        {
            ThrowIfCompleted();
            // A replayed call whose event was never built cannot have had it written: write the trap
            // from the call's own copy, without building the event.
            if (syscall.EventIfBuilt is not { } @event)
            {
                WriteEventCore(syscall.Vcpu, syscall.Direction, syscall.Mechanism, syscall.Timestamp, in syscall.TrapRegisters, in syscall.TrapSpecialRegisters, null);
            }
            else if (syscall.Vcpu >= _lastEvent.Length || !ReferenceEquals(_lastEvent[syscall.Vcpu], @event))
            {
                WriteEventCore(@event.Vcpu, @event.Direction, @event.Mechanism, @event.Timestamp, in @event.Registers, in @event.SpecialRegisters, @event);
            }

            _scratchLength = 0;
            try
            {
                SerializeSyscall(syscall);
            }
            catch (RecordTooLargeException ex)
            {
                throw new ArgumentException(
                    $"The record of {syscall} would exceed the trace block limit of {TraceFormat.MaxBlockPayload} bytes; its decoded values must be smaller.", nameof(syscall), ex);
            }
            var body = AppendRecord(RecordKind.Syscall, _scratchLength);
            _scratch.AsSpan(0, _scratchLength).CopyTo(body);
            _syscalls++;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the current block and flushes everything written so far to the destination.</summary>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <returns>A task that completes when the data was handed to the destination.</returns>
    /// <exception cref="ObjectDisposedException">The writer was completed.</exception>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ThrowIfCompleted();
            CloseBlock(flush: false);
            await _pipe.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Writes the end record, flushes and completes the pipe. Further calls do nothing.</summary>
    public void Complete()
    {
        _gate.Wait();
        try
        {
            if (_completed)
            {
                return;
            }

            WriteEnd();
            CloseBlock(flush: true);
            _pipe.Complete();
        }
        finally
        {
            Release();
            _gate.Release();
        }
    }

    /// <inheritdoc cref="Complete"/>
    public void Dispose() => Complete();

    /// <summary>Writes the end record, flushes and completes the pipe asynchronously. Further calls do nothing.</summary>
    /// <returns>A task that completes when the trace is whole on the destination.</returns>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_completed)
            {
                return;
            }

            WriteEnd();
            CloseBlock(flush: false);
            Release();
            await _pipe.FlushAsync();
            await _pipe.CompleteAsync();
        }
        finally
        {
            Release();
            _gate.Release();
        }
    }

    private void Release()
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        ArrayPool<byte>.Shared.Return(_block);
        ArrayPool<byte>.Shared.Return(_scratch);
        _block = [];
        _scratch = [];
    }

    private void ThrowIfCompleted() => ObjectDisposedException.ThrowIf(_completed, this);

    private void WriteEventCore(
        int vcpu, SyscallDirection direction, SyscallMechanism mechanism, long timestamp, in Registers registers, in SpecialRegisters specialRegisters, NitroEvent? identity)
    {
        if (vcpu >= TraceFormat.MaxVcpus)
        {
            throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"vCPU {vcpu} is beyond the {TraceFormat.MaxVcpus} vCPUs a trace can hold.");
        }

        if (vcpu >= _lastEvent.Length)
        {
            var length = Math.Min(TraceFormat.MaxVcpus, Math.Max(vcpu + 1, _lastEvent.Length * 2));
            Array.Resize(ref _lastEvent, length);
            Array.Resize(ref _lastSregs, length);
            Array.Resize(ref _wroteEvent, length);
        }

        var withSregs = !_wroteEvent[vcpu] || !_lastSregs[vcpu].Equals(specialRegisters);
        var body = AppendRecord(RecordKind.Event, withSregs ? TraceFormat.EventWithSregsSize : TraceFormat.EventFixedSize);
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)vcpu);
        body[2] = (byte)direction;
        body[3] = (byte)mechanism;
        body[4] = withSregs ? TraceFormat.EventHasSpecialRegisters : (byte)0;
        body[5] = 0;
        body[6] = 0;
        body[7] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(body[8..], timestamp);
        MemoryMarshal.AsBytes(new ReadOnlySpan<Registers>(in registers)).CopyTo(body[16..]);
        if (withSregs)
        {
            MemoryMarshal.AsBytes(new ReadOnlySpan<SpecialRegisters>(in specialRegisters)).CopyTo(body[TraceFormat.EventFixedSize..]);
            _lastSregs[vcpu] = specialRegisters;
        }

        _lastEvent[vcpu] = identity;
        _wroteEvent[vcpu] = true;
        _events++;
    }

    private void SerializeSyscall(Syscall s)
    {
        var process = s.Process;
        byte flags = 0;
        if (s.ThreadId is not null)
        {
            flags |= TraceFormat.SyscallHasThreadId;
        }

        if (process is not null)
        {
            flags |= TraceFormat.SyscallHasProcess;
            if (process.ParentPid is not null)
            {
                flags |= TraceFormat.SyscallHasParentPid;
            }
        }

        var head = Scratch(12);
        BinaryPrimitives.WriteUInt16LittleEndian(head, (ushort)s.Vcpu);
        head[2] = flags;
        head[3] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(head[4..], s.Number);
        WriteName(s.Name);
        WriteName(s.FullName);
        WriteName(s.Convention.Name);
        if (s.ThreadId is { } tid)
        {
            BinaryPrimitives.WriteInt64LittleEndian(Scratch(8), tid);
        }

        if (process is not null)
        {
            var processAt = _scratchLength;
            BinaryPrimitives.WriteInt32LittleEndian(Scratch(4), process.Pid);
            WriteName(process.Name);
            if (process.ParentPid is { } ppid)
            {
                BinaryPrimitives.WriteInt32LittleEndian(Scratch(4), ppid);
            }

            WriteMap(process.Properties, "Process.Properties");
            InternProcess(process, processAt);
        }

        var decodedAt = _scratchLength;
        WriteMap(s.Decoded, "Syscall.Decoded");
        InternDecoded(s.Decoded, decodedAt);
    }

    /// <summary>
    /// Replaces the decoded map just serialized at <paramref name="at"/> (the end of the record) by
    /// its map id, when <see cref="TryIntern"/> gives it one.
    /// </summary>
    private void InternDecoded(IReadOnlyDictionary<string, object?> map, int at)
    {
        if (map.Count > 0 && TryIntern(_maps, _maps.Count, map, at, RecordKind.Map, recordFlags: null, TraceFormat.MaxInternedMapBytes, TraceFormat.MaxInternedMaps, out var id))
        {
            ReplaceTailWithId(at, id);
            _scratch[2] |= TraceFormat.SyscallDecodedIsMapId;
        }
    }

    /// <summary>
    /// Replaces the process section just serialized at <paramref name="at"/> (the end of the record so
    /// far) by its process id, when <see cref="TryIntern"/> gives it one. The record's flags then say
    /// "process id" instead of "process" and "parent pid", which the process record holds.
    /// </summary>
    private void InternProcess(Process process, int at)
    {
        var flags = process.ParentPid is not null ? TraceFormat.SyscallHasParentPid : (byte)0;
        if (TryIntern(
            _processes[flags == 0 ? 0 : 1], _processes[0].Count + _processes[1].Count, process.Properties, at, RecordKind.Process, flags, TraceFormat.MaxInternedProcessBytes, TraceFormat.MaxInternedProcesses, out var id))
        {
            ReplaceTailWithId(at, id);
            _scratch[2] = (byte)((_scratch[2] | TraceFormat.SyscallProcessIsId) & ~TraceFormat.SyscallHasParentPid);
        }
    }

    /// <summary>
    /// The id of the section serialized from <paramref name="at"/> to the end of the scratch record
    /// in <paramref name="table"/>, defining it first (a record of <paramref name="kind"/>: u32 id,
    /// the optional flags byte, the section) when it is new and calls may share what it decodes to:
    /// at most <paramref name="maxBytes"/> bytes, a map of <paramref name="entries"/> of at most
    /// <see cref="SmallMap.MaxCount"/> entries and no arrays, and fewer than <paramref name="maxIds"/>
    /// ids given. Ids count up from 0 per record kind: <paramref name="defined"/> is how many that
    /// kind has given so far.
    /// </summary>
    private bool TryIntern(
        Dictionary<byte[], uint> table, int defined, IReadOnlyDictionary<string, object?> entries, int at, RecordKind kind, byte? recordFlags, int maxBytes, int maxIds, out uint id)
    {
        var section = _scratch.AsSpan(at, _scratchLength - at);
        if (table.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(section, out id))
        {
            return true;
        }

        if (section.Length > maxBytes || entries.Count > SmallMap.MaxCount || defined >= maxIds || HasArray(entries))
        {
            return false;
        }

        id = (uint)defined;
        var prefix = recordFlags is null ? 4 : 5;
        var body = AppendRecord(kind, prefix + section.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        if (recordFlags is { } flags)
        {
            body[4] = flags;
        }

        section.CopyTo(body[prefix..]);
        table.Add(section.ToArray(), id);
        return true;
    }

    private void ReplaceTailWithId(int at, uint id)
    {
        _scratchLength = at;
        BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), id);
    }

    private static bool HasArray(IReadOnlyDictionary<string, object?> map)
    {
        foreach (var (_, value) in map)
        {
            if (value is byte[] or string[])
            {
                return true;
            }
        }

        return false;
    }

    private void WriteMap(IReadOnlyDictionary<string, object?> map, string what)
    {
        if (map.Count > ushort.MaxValue)
        {
            throw new ArgumentException($"{what} has {map.Count} entries; a trace record holds at most {ushort.MaxValue}.", nameof(map));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(Scratch(2), (ushort)map.Count);
        foreach (var (key, value) in map)
        {
            WriteName(key);
            WriteValue(value);
        }
    }

    private void WriteValue(object? value)
    {
        switch (value)
        {
            case null:
                Scratch(1)[0] = (byte)ValueTag.Null;
                break;
            case long l:
                WriteTagged64(ValueTag.Int64, (ulong)l);
                break;
            case ulong u:
                WriteTagged64(ValueTag.UInt64, u);
                break;
            case int i:
                var span = Scratch(5);
                span[0] = (byte)ValueTag.Int32;
                BinaryPrimitives.WriteInt32LittleEndian(span[1..], i);
                break;
            case bool b:
                var pair = Scratch(2);
                pair[0] = (byte)ValueTag.Boolean;
                pair[1] = b ? (byte)1 : (byte)0;
                break;
            case string text:
                Scratch(1)[0] = (byte)ValueTag.String;
                WriteInlineString(text);
                break;
            case byte[] bytes:
                Scratch(1)[0] = (byte)ValueTag.Bytes;
                BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), (uint)bytes.Length);
                bytes.CopyTo(Scratch(bytes.Length));
                break;
            case string[] texts:
                Scratch(1)[0] = (byte)ValueTag.StringArray;
                BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), (uint)texts.Length);
                foreach (var t in texts)
                {
                    WriteInlineString(t ?? string.Empty);
                }

                break;
            case Unreadable unreadable:
                WriteTagged64(ValueTag.Unreadable, unreadable.Address);
                WriteInlineString(unreadable.Reason);
                break;
            default:
                Scratch(1)[0] = (byte)ValueTag.String;
                WriteInlineString(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty);
                break;
        }
    }

    private void WriteTagged64(ValueTag tag, ulong value)
    {
        var span = Scratch(9);
        span[0] = (byte)tag;
        BinaryPrimitives.WriteUInt64LittleEndian(span[1..], value);
    }

    private void WriteInlineString(string text)
    {
        var count = s_utf8.GetByteCount(text);
        BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), (uint)count);
        s_utf8.GetBytes(text, Scratch(count));
    }

    private void WriteName(string name)
    {
        if (!_interned.TryGetValue(name, out var id))
        {
            var count = s_utf8.GetByteCount(name);
            if (count > TraceFormat.MaxInternedStringBytes || _interned.Count >= TraceFormat.MaxInternedStrings)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), TraceFormat.InlineString);
                WriteInlineString(name);
                return;
            }

            id = (uint)_interned.Count;
            var body = AppendRecord(RecordKind.String, 4 + count);
            BinaryPrimitives.WriteUInt32LittleEndian(body, id);
            s_utf8.GetBytes(name, body[4..]);
            _interned.Add(name, id);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(Scratch(4), id);
    }

    private Span<byte> Scratch(int count)
    {
        var needed = _scratchLength + count;
        if (needed > TraceFormat.MaxBlockPayload - TraceFormat.RecordHeaderSize)
        {
            throw new RecordTooLargeException();
        }

        if (needed > _scratch.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _scratch.Length * 2));
            _scratch.AsSpan(0, _scratchLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = larger;
        }

        var span = _scratch.AsSpan(_scratchLength, count);
        _scratchLength = needed;
        return span;
    }

    private Span<byte> AppendRecord(RecordKind kind, int bodyLength)
    {
        var size = TraceFormat.RecordHeaderSize + bodyLength;
        if (_blockRecords > 0 && _blockLength + size > _blockTarget)
        {
            CloseBlock(flush: true);
        }

        var span = _block.AsSpan(_blockLength, size);
        span[0] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(span[1..], (uint)bodyLength);
        _blockLength += size;
        _blockRecords++;
        return span[TraceFormat.RecordHeaderSize..];
    }

    private void WriteEnd()
    {
        var body = AppendRecord(RecordKind.End, TraceFormat.EndBodySize);
        BinaryPrimitives.WriteUInt64LittleEndian(body, _events);
        BinaryPrimitives.WriteUInt64LittleEndian(body[8..], _syscalls);
        BinaryPrimitives.WriteUInt64LittleEndian(body[16..], (ulong)_interned.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(body[24..], _sequence);
    }

    private void CloseBlock(bool flush)
    {
        if (_blockRecords == 0)
        {
            return;
        }

        var payload = _block.AsSpan(0, _blockLength);
        var span = _pipe.GetSpan(TraceFormat.BlockHeaderSize + payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)_blockRecords);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], _sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], Crc32C.Compute(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], Crc32C.Compute(span[..16]));
        payload.CopyTo(span[TraceFormat.BlockHeaderSize..]);
        _pipe.Advance(TraceFormat.BlockHeaderSize + payload.Length);
        _blockLength = 0;
        _blockRecords = 0;
        _sequence++;
        if (flush)
        {
            var pending = _pipe.FlushAsync();
            if (!pending.IsCompletedSuccessfully)
            {
                pending.AsTask().GetAwaiter().GetResult();
            }
        }
    }

    private void WriteHeader(TraceWriterOptions options)
    {
        var createdUtc = options.CreatedUtc?.ToUniversalTime() ?? DateTimeOffset.UtcNow;
        var origin = options.MonotonicOrigin ?? MonotonicClock.Now;
        var entries = new List<KeyValuePair<string, string>>
        {
            new(TraceFormat.Keys.Os, options.Os),
            new(TraceFormat.Keys.Kernel, options.Kernel),
            new(TraceFormat.Keys.Vcpus, options.Vcpus.ToString(CultureInfo.InvariantCulture)),
            new(TraceFormat.Keys.Source, options.Source),
            new(TraceFormat.Keys.CreatedUtc, createdUtc.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
            new(TraceFormat.Keys.MonotonicOrigin, origin.ToString(CultureInfo.InvariantCulture)),
        };
        var keys = new HashSet<string>(StringComparer.Ordinal) { "os", "kernel", "vcpus", "source", "created-utc", "monotonic-origin-ns" };
        if (options.Metadata is not null)
        {
            foreach (var pair in options.Metadata)
            {
                if (!keys.Add(pair.Key))
                {
                    throw new ArgumentException($"Metadata key '{pair.Key}' is set twice (or is one of the standard keys).", nameof(options));
                }

                entries.Add(pair);
            }
        }

        var length = TraceFormat.FixedHeaderSize + 4;
        foreach (var (key, value) in entries)
        {
            var keyBytes = s_utf8.GetByteCount(key);
            var valueBytes = s_utf8.GetByteCount(value ?? string.Empty);
            if (keyBytes > ushort.MaxValue || valueBytes > ushort.MaxValue)
            {
                throw new ArgumentException($"Metadata entry '{key}' is longer than {ushort.MaxValue} bytes.", nameof(options));
            }

            length += 4 + keyBytes + valueBytes;
        }

        if (length > TraceFormat.MaxHeaderLength || entries.Count > ushort.MaxValue)
        {
            throw new ArgumentException($"The metadata needs {length} header bytes; at most {TraceFormat.MaxHeaderLength} fit.", nameof(options));
        }

        var span = _pipe.GetSpan(length)[..length];
        TraceFormat.Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], TraceFormat.CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[16..], (ushort)entries.Count);
        var position = TraceFormat.FixedHeaderSize;
        foreach (var (key, value) in entries)
        {
            position += WritePrefixed16(span[position..], key);
            position += WritePrefixed16(span[position..], value ?? string.Empty);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[position..], Crc32C.Compute(span[..position]));
        _pipe.Advance(length);
    }

    private static int WritePrefixed16(Span<byte> span, string text)
    {
        var count = s_utf8.GetBytes(text, span[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)count);
        return 2 + count;
    }

    private sealed class RecordTooLargeException : Exception
    {
    }
}
