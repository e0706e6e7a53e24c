using System.Buffers.Binary;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Decoding;

/// <summary>Bounded reads from the caller's address space that turn every failure into an <see cref="Unreadable"/> marker.</summary>
internal readonly struct UserReader
{
    /// <summary>A UNICODE_STRING holds at most 0xFFFE bytes (its lengths are 16-bit).</summary>
    public const int MaxUnicodeBytes = 0xFFFE;

    private readonly IVirtualMemory? _memory;

    public UserReader(IVirtualMemory? memory) => _memory = memory;

    public static Unreadable Null => Unreadable.NullPointer;

    public Unreadable? TryRead(ulong address, Span<byte> destination) => _memory.TryReadOrMark(address, destination);

    public bool TryReadUInt64(ulong address, out ulong value, out Unreadable? marker)
    {
        Span<byte> bytes = stackalloc byte[8];
        marker = TryRead(address, bytes);
        value = marker is null ? BinaryPrimitives.ReadUInt64LittleEndian(bytes) : 0;
        return marker is null;
    }

    public int ReadPartial(ulong address, Span<byte> destination) => _memory.ReadPartialOrNone(address, destination);

    public Unreadable MarkerFor(ulong address) => _memory.MarkerFor(address);

    /// <summary>
    /// A UNICODE_STRING at <paramref name="address"/>: its text, or a marker when the structure or
    /// its buffer is unreadable, or when Length exceeds MaximumLength (a string longer than its buffer).
    /// </summary>
    public object ReadUnicodeString(ulong address)
    {
        Span<byte> header = stackalloc byte[16];
        if (TryRead(address, header) is { } marker)
        {
            return marker;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(header);
        var maximum = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        var buffer = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        if (length > maximum)
        {
            return new Unreadable(buffer, $"UNICODE_STRING Length {length} exceeds its buffer of {maximum} bytes");
        }

        if (length == 0)
        {
            return string.Empty;
        }

        if (buffer == 0)
        {
            return Null;
        }

        try
        {
            return _memory!.ReadCountedUtf16String(buffer, length);
        }
        catch (GuestMemoryException ex)
        {
            return Unreadable.From(ex.Address != 0 ? ex.Address : buffer, ex);
        }
    }
}
