using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;
using System.Text.Json;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Export.Internal;

/// <summary>
/// Writes the JSON line of <see cref="SyscallJson.Write"/> straight into a byte buffer, byte for
/// byte the same: the fixed parts are pre-encoded, printable ASCII strings are copied as they
/// are, numbers and hex are formatted in place, and the process and decoded objects of replayed
/// calls (immutable, shared between calls) are formatted once and copied after that. Anything
/// else — strings that need escaping, floating-point numbers, enums, arrays, nested maps — goes
/// through <see cref="JsonEncodedText"/> or a <see cref="Utf8JsonWriter"/> with the same options.
/// </summary>
internal sealed class SyscallLineFormatter
{
    private const int FragmentSlots = 256;
    private const int NameSlots = 128;
    private const int MaxArgumentsWritten = 6;
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;

    // Printable ASCII but the quote and the backslash: what the relaxed encoder never escapes.
    private static readonly SearchValues<char> s_plain = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private readonly TimeOrigin _origin;
    private readonly (object? Key, byte[] Json)[] _fragments = new (object?, byte[])[FragmentSlots];
    private readonly (string? Name, byte[] Json)[] _names = new (string?, byte[])[NameSlots];
    private readonly byte[] _secondPrefix = new byte[20]; // "yyyy-MM-ddTHH:mm:ss."
    private long _second = long.MinValue;
    private Utf8JsonWriter? _fallback;

    public SyscallLineFormatter(TimeOrigin origin) => _origin = origin;

    /// <summary>Appends the JSON object of <paramref name="syscall"/> (no newline).</summary>
    public void Write(JsonLineBuffer line, Syscall syscall)
    {
        Span<byte> time = stackalloc byte[28];
        FormatTime(WallClockTicks(syscall.Timestamp), time);
        var exit = syscall.Direction == SyscallDirection.Exit;

        // The fixed parts go through cursors over one reservation each (sizes bound below); names,
        // process and decoded values, which have no bound, are appended between them.
        var head = new Cursor(line, 80);
        head.Append("{\"time\":\""u8);
        head.Append(time);
        head.Append(exit ? "\",\"direction\":\"exit\",\"name\":"u8 : "\",\"direction\":\"enter\",\"name\":"u8);
        head.Commit(line);
        AppendName(line, syscall.Name);
        line.Append(",\"full_name\":"u8);
        AppendName(line, syscall.FullName);

        var numbers = new Cursor(line, 128);
        numbers.Append(",\"number\":"u8);
        numbers.Integer(syscall.Number);
        numbers.Append(",\"vcpu\":"u8);
        numbers.Integer(syscall.Vcpu);
        if (syscall.ThreadId is { } threadId)
        {
            numbers.Append(",\"thread_id\":"u8);
            numbers.Integer(threadId);
        }

        numbers.Append(",\"process\":"u8);
        numbers.Commit(line);
        AppendProcess(line, syscall.Process);

        var built = syscall.ArgumentsIfBuilt;
        var arguments = new Cursor(line, 160);
        AppendArguments(ref arguments, syscall, built);
        arguments.Append(",\"decoded\":"u8);
        arguments.Commit(line);
        AppendDecoded(line, syscall.Decoded);
        if (built is not null)
        {
            AppendModified(line, built);
        }

        if (syscall.ReadLate.Count > 0)
        {
            AppendReadLate(line, syscall.ReadLate);
        }

        AppendTail(line, syscall, exit, time);
    }

    private static void AppendTail(JsonLineBuffer line, Syscall syscall, bool exit, scoped ReadOnlySpan<byte> time)
    {
        var tail = new Cursor(line, 256);
        if (exit)
        {
            tail.Append(",\"return\":"u8);
            tail.Integer((long)syscall.TrapRegisters.Rax);
        }

        if (syscall.Entry is { } entry)
        {
            tail.Append(",\"duration_ns\":"u8);
            tail.Integer(syscall.Timestamp - entry.Timestamp);
        }

        AppendEvent(ref tail, syscall, exit, time);
        tail.Append((byte)'}');
        tail.Commit(line);
    }

    // From the call's own copy of the trap: a replayed call does not build its event for this.
    private static void AppendEvent(ref Cursor line, Syscall syscall, bool exit, scoped ReadOnlySpan<byte> time)
    {
        line.Append(",\"event\":{\"vcpu\":"u8);
        line.Integer(syscall.Vcpu);
        line.Append(syscall.Mechanism == SyscallMechanism.Sysenter ? ",\"type\":\"sysenter\""u8 : ",\"type\":\"syscall\""u8);
        line.Append(exit ? ",\"direction\":\"exit\",\"cr3\":"u8 : ",\"direction\":\"enter\",\"cr3\":"u8);
        line.Hex(syscall.TrapSpecialRegisters.Cr3);
        line.Append(",\"rax\":"u8);
        line.Hex(syscall.TrapRegisters.Rax);
        line.Append(",\"time\":\""u8);
        line.Append(time);
        line.Append("\"}"u8);
    }

    /// <summary>Forgets a half-written fallback value after a failure.</summary>
    public void Reset() => _fallback?.Reset();

    private static void AppendArguments(ref Cursor line, Syscall syscall, ArgumentMap? built)
    {
        line.Append(",\"args\":["u8);
        var convention = syscall.Convention;
        var count = Math.Min(convention.MaxArguments, MaxArgumentsWritten);
        ref readonly var registers = ref syscall.TrapRegisters;
        for (var i = 0; i < count; i++)
        {
            var location = convention.Locate(i);
            if (location.Kind != ArgumentLocationKind.Register)
            {
                break;
            }

            if (i > 0)
            {
                line.Append((byte)',');
            }

            // Built arguments may have been changed (Set keeps its own copy); otherwise read the event's registers.
            ulong value;
            if (built is not null)
            {
                value = built.GetRaw(i);
            }
            else
            {
                value = Unsafe.As<Registers, ulong>(ref Unsafe.AddByteOffset(ref Unsafe.AsRef(in registers), (nint)location.Offset));
                value = location.Width == 4 ? (uint)value : value;
            }

            line.Hex(value);
        }

        line.Append((byte)']');
    }

    private static void AppendModified(JsonLineBuffer line, ArgumentMap arguments)
    {
        var modified = arguments.Modified;
        if (modified.Count == 0)
        {
            return;
        }

        line.Append(",\"modified\":["u8);
        for (var i = 0; i < modified.Count; i++)
        {
            if (i > 0)
            {
                line.Append((byte)',');
            }

            AppendInteger(line, modified[i]);
        }

        line.Append((byte)']');
    }

    private void AppendReadLate(JsonLineBuffer line, IReadOnlyList<string> names)
    {
        line.Append(",\"read_late\":["u8);
        for (var i = 0; i < names.Count; i++)
        {
            if (i > 0)
            {
                line.Append((byte)',');
            }

            AppendName(line, names[i]);
        }

        line.Append((byte)']');
    }

    private void AppendProcess(JsonLineBuffer line, Process? process)
    {
        if (process is null)
        {
            line.Append("null"u8);
            return;
        }

        // A process whose properties cannot change (replay shares such processes between calls) is formatted once.
        var immutable = process.Properties is SmallMap { IsImmutable: true } || ReferenceEquals(process.Properties, Process.NoProperties);
        if (immutable && TryAppendFragment(line, process))
        {
            return;
        }

        var start = line.Length;
        line.Append("{\"name\":"u8);
        AppendString(line, process.Name);
        line.Append(",\"pid\":"u8);
        AppendInteger(line, process.Pid);
        if (process.ParentPid is { } parentPid)
        {
            line.Append(",\"ppid\":"u8);
            AppendInteger(line, parentPid);
        }
        else
        {
            line.Append(",\"ppid\":null"u8);
        }

        foreach (var pair in process.Properties)
        {
            if (pair.Key is "name" or "pid" or "ppid")
            {
                continue;
            }

            line.Append((byte)',');
            AppendString(line, pair.Key);
            line.Append((byte)':');
            AppendValue(line, pair.Value);
        }

        line.Append((byte)'}');
        if (immutable)
        {
            Remember(line, process, start);
        }
    }

    private void AppendDecoded(JsonLineBuffer line, IReadOnlyDictionary<string, object?> decoded)
    {
        var immutable = decoded is SmallMap { IsImmutable: true };
        if (immutable && TryAppendFragment(line, decoded))
        {
            return;
        }

        var start = line.Length;
        line.Append((byte)'{');
        var first = true;
        foreach (var pair in decoded)
        {
            if (!first)
            {
                line.Append((byte)',');
            }

            first = false;
            AppendString(line, pair.Key);
            line.Append((byte)':');
            AppendValue(line, pair.Value);
        }

        line.Append((byte)'}');
        if (immutable)
        {
            Remember(line, decoded, start);
        }
    }

    private void AppendValue(JsonLineBuffer line, object? value)
    {
        switch (value)
        {
            case null:
                line.Append("null"u8);
                break;
            case string text:
                AppendString(line, text);
                break;
            case bool flag:
                line.Append(flag ? "true"u8 : "false"u8);
                break;
            case long number:
                AppendInteger(line, number);
                break;
            case int number:
                AppendInteger(line, number);
                break;
            case ulong number:
                AppendUnsigned(line, number);
                break;
            case uint number:
                AppendUnsigned(line, number);
                break;
            case Unreadable unreadable:
                line.Append("{\"unreadable\":"u8);
                AppendHex(line, unreadable.Address);
                line.Append(",\"reason\":"u8);
                AppendString(line, unreadable.Reason);
                line.Append((byte)'}');
                break;
            default:
                AppendFallback(line, value);
                break;
        }
    }

    private void AppendFallback(JsonLineBuffer line, object value)
    {
        var writer = Fallback(line);
        SyscallJson.WriteValue(writer, value, depth: 1);
        writer.Flush();
    }

    private Utf8JsonWriter Fallback(JsonLineBuffer line)
    {
        // A root-level value written compactly has the same bytes as that value nested in an object.
        var writer = _fallback ??= new Utf8JsonWriter(line, SyscallJson.WriterOptions);
        writer.Reset(line);
        return writer;
    }

    /// <summary>Appends a call's name: the same few string objects again and again (interned by back ends and the trace reader), so their JSON is kept by reference.</summary>
    private void AppendName(JsonLineBuffer line, string name)
    {
        ref var slot = ref _names[RuntimeHelpers.GetHashCode(name) & (NameSlots - 1)];
        if (ReferenceEquals(slot.Name, name))
        {
            line.Append(slot.Json);
            return;
        }

        var start = line.Length;
        AppendString(line, name);
        slot = (name, line.WrittenSpan[start..].ToArray());
    }

    private void AppendString(JsonLineBuffer line, string text)
    {
        if (text.AsSpan().ContainsAnyExcept(s_plain))
        {
            // Escapes, non-ASCII, lone surrogates: exactly as the writer of SyscallJson does it.
            var writer = Fallback(line);
            writer.WriteStringValue(text);
            writer.Flush();
            return;
        }

        var span = line.GetSpan(text.Length + 2);
        span[0] = (byte)'"';
        Ascii.FromUtf16(text, span[1..], out var written);
        span[written + 1] = (byte)'"';
        line.Advance(written + 2);
    }

    private static void AppendInteger(JsonLineBuffer line, long value)
    {
        var span = line.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        line.Advance(written);
    }

    private static void AppendUnsigned(JsonLineBuffer line, ulong value)
    {
        var span = line.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        line.Advance(written);
    }

    private static void AppendHex(JsonLineBuffer line, ulong value)
    {
        var cursor = new Cursor(line, 20);
        cursor.Hex(value);
        cursor.Commit(line);
    }

    /// <summary>"0x" and lowercase digits without leading zeros, quoted (Python's hex()), into <paramref name="span"/> (at least 20 bytes); returns the length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FormatHex(Span<byte> span, ulong value)
    {
        span[19] = 0; // one bounds check for the stores below
        span[0] = (byte)'"';
        span[1] = (byte)'0';
        span[2] = (byte)'x';
        var digits = value == 0 ? 1 : (67 - BitOperations.LeadingZeroCount(value)) / 4;
        if (Ssse3.IsSupported)
        {
            // Bytes most significant first, each split into its two nibbles; one table look-up for all
            // 16 digits, then a shuffle that drops the leading zeros; 16 bytes stored, digits + 4 kept.
            var bytes = Vector128.CreateScalar(BinaryPrimitives.ReverseEndianness(value)).AsByte();
            var mask = Vector128.Create((byte)0x0F);
            var high = Vector128.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & mask;
            var nibbles = Sse2.UnpackLow(high, bytes & mask);
            var hex = Ssse3.Shuffle(Vector128.Create("0123456789abcdef"u8), nibbles);
            var aligned = Ssse3.Shuffle(hex, Vector128.Create((byte)(16 - digits)) + Vector128.Create((byte)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
            aligned.StoreUnsafe(ref span[3]);
        }
        else
        {
            for (var i = digits - 1; i >= 0; i--)
            {
                span[3 + i] = "0123456789abcdef"u8[(int)(value & 0xF)];
                value >>= 4;
            }
        }

        span[3 + digits] = (byte)'"';
        return digits + 4;
    }

    /// <summary><see cref="TimeOrigin.ToWallClock"/> as UTC ticks, without building the <see cref="DateTimeOffset"/>; out of range it throws as that does.</summary>
    private long WallClockTicks(long timestamp)
    {
        var ticks = Math.DivRem(timestamp - _origin.MonotonicNanoseconds, 100, out var remainder);
        if (remainder < 0)
        {
            ticks--;
        }

        var originTicks = _origin.WallClock.UtcTicks;
        return ticks >= -originTicks && ticks <= DateTime.MaxValue.Ticks - originTicks
            ? originTicks + ticks
            : _origin.ToWallClock(timestamp).UtcTicks;
    }

    private void FormatTime(long ticks, Span<byte> destination)
    {
        // "O" of a UTC time: yyyy-MM-ddTHH:mm:ss.fffffffZ; the part up to the second is formatted once per second.
        var second = ticks / TicksPerSecond;
        if (second != _second)
        {
            new DateTime(second * TicksPerSecond, DateTimeKind.Utc).TryFormat(destination, out _, "O", System.Globalization.CultureInfo.InvariantCulture);
            destination[..20].CopyTo(_secondPrefix);
            _second = second;
        }

        _secondPrefix.CopyTo(destination);
        // Seven digits of 100 ns (0 … 9,999,999): a digit and three pairs, each by one multiply, not seven dependent divisions.
        var fraction = (uint)(ticks - (second * TicksPerSecond));
        var high = fraction / 10_000;
        var low = fraction - (high * 10_000);
        destination[27] = (byte)'Z';
        destination[20] = (byte)('0' + (high / 100));
        WritePair(destination[21..], high % 100);
        WritePair(destination[23..], low / 100);
        WritePair(destination[25..], low % 100);
    }

    private static void WritePair(Span<byte> destination, uint value)
    {
        var digits = s_pairs.Slice((int)value * 2, 2);
        destination[1] = digits[1];
        destination[0] = digits[0];
    }

    private static ReadOnlySpan<byte> s_pairs =>
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    private bool TryAppendFragment(JsonLineBuffer line, object key)
    {
        var slot = _fragments[RuntimeHelpers.GetHashCode(key) & (FragmentSlots - 1)];
        if (ReferenceEquals(slot.Key, key))
        {
            line.Append(slot.Json);
            return true;
        }

        return false;
    }

    private void Remember(JsonLineBuffer line, object key, int start) =>
        _fragments[RuntimeHelpers.GetHashCode(key) & (FragmentSlots - 1)] = (key, line.WrittenSpan[start..].ToArray());

    /// <summary>
    /// Appends into one span reserved up front, so that the many short pieces of a line cost no
    /// capacity check or length update each; <see cref="Commit"/> advances the buffer once. The
    /// caller reserves enough for everything it appends (span bounds checks still stop an overrun).
    /// </summary>
    private ref struct Cursor
    {
        private readonly Span<byte> _span;
        private int _position;

        public Cursor(JsonLineBuffer line, int reserve)
        {
            _span = line.GetSpan(reserve);
            _position = 0;
        }

        public void Append(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_span[_position..]);
            _position += bytes.Length;
        }

        public void Append(byte value) => _span[_position++] = value;

        public void Integer(long value)
        {
            if (!Utf8Formatter.TryFormat(value, _span[_position..], out var written))
            {
                ThrowReservationTooSmall();
            }

            _position += written;
        }

        public void Hex(ulong value) => _position += FormatHex(_span[_position..], value);

        public readonly void Commit(JsonLineBuffer line) => line.Advance(_position);

        [DoesNotReturn]
        private static void ThrowReservationTooSmall() => throw new InvalidOperationException("A JSON line cursor reserved too little space.");
    }
}
