using System.Diagnostics.CodeAnalysis;

namespace Nitro.Reactive.Memory;

/// <summary>
/// Guest physical memory held in a managed buffer: a raw memory dump loaded into an array, or
/// page tables and data built by a test. Physical address <c>p</c> is byte <c>p</c> of the buffer.
/// </summary>
public sealed class ArrayGuestMemory : IGuestMemory
{
    private readonly Memory<byte> _memory;

    /// <summary>Initializes a new instance with <paramref name="size"/> zeroed bytes.</summary>
    /// <param name="size">The size of guest physical memory in bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is negative.</exception>
    public ArrayGuestMemory(int size)
        : this(new byte[size >= 0 ? size : throw new ArgumentOutOfRangeException(nameof(size), size, "The size must not be negative.")])
    {
    }

    /// <summary>Initializes a new instance over an existing array; writes go to that array.</summary>
    /// <param name="bytes">The guest physical memory, starting at physical address 0.</param>
    /// <param name="readOnly">Whether <see cref="Write"/> is refused.</param>
    /// <exception cref="ArgumentNullException"><paramref name="bytes"/> is <see langword="null"/>.</exception>
    public ArrayGuestMemory(byte[] bytes, bool readOnly = false)
        : this((bytes ?? throw new ArgumentNullException(nameof(bytes))).AsMemory(), readOnly)
    {
    }

    /// <summary>Initializes a new instance over existing memory; writes go to that memory.</summary>
    /// <param name="memory">The guest physical memory, starting at physical address 0.</param>
    /// <param name="readOnly">Whether <see cref="Write"/> is refused.</param>
    public ArrayGuestMemory(Memory<byte> memory, bool readOnly = false)
    {
        _memory = memory;
        IsReadOnly = readOnly;
    }

    /// <inheritdoc />
    public ulong Size => (ulong)_memory.Length;

    /// <summary>Gets a value indicating whether <see cref="Write"/> is refused.</summary>
    public bool IsReadOnly { get; }

    /// <inheritdoc />
    public void Read(ulong physicalAddress, Span<byte> destination)
    {
        var length = (ulong)_memory.Length;
        if (physicalAddress > length || (ulong)destination.Length > length - physicalAddress)
        {
            ThrowOutOfRange(physicalAddress, destination.Length, length);
        }

        _memory.Span.Slice((int)physicalAddress, destination.Length).CopyTo(destination);
    }

    /// <inheritdoc />
    public void Write(ulong physicalAddress, ReadOnlySpan<byte> source)
    {
        if (IsReadOnly)
        {
            throw new NotSupportedException(
                $"This guest memory is read-only, so the write of {source.Length} bytes at guest physical address 0x{physicalAddress:x} was refused. " +
                "Create the ArrayGuestMemory with readOnly: false to allow writes.");
        }

        var length = (ulong)_memory.Length;
        if (physicalAddress > length || (ulong)source.Length > length - physicalAddress)
        {
            ThrowOutOfRange(physicalAddress, source.Length, length);
        }

        source.CopyTo(_memory.Span.Slice((int)physicalAddress, source.Length));
    }

    [DoesNotReturn]
    private static void ThrowOutOfRange(ulong physicalAddress, int count, ulong size) =>
        throw new GuestMemoryException(
            physicalAddress,
            GuestMemoryFault.OutOfRange,
            0,
            $"Guest physical range 0x{physicalAddress:x} + {count} bytes is outside guest memory of 0x{size:x} bytes. " +
            "Check the address (a stale or corrupt page-table entry?) or load a larger memory image.");
}
