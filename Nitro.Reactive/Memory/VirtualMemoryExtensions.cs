using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Memory;

/// <summary>Bounded typed reads from guest virtual memory.</summary>
public static class VirtualMemoryExtensions
{
    /// <summary>The largest single read the SDK performs on behalf of a caller (1 MiB).</summary>
    public const int MaxReadLength = 1 << 20;

    private const int Chunk = 256;

    /// <summary>Reads a little-endian unsigned 64-bit integer.</summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <returns>The value.</returns>
    /// <exception cref="GuestMemoryException">The address is not readable.</exception>
    public static ulong ReadUInt64(this IVirtualMemory memory, ulong address)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Span<byte> buffer = stackalloc byte[8];
        memory.Read(address, buffer);
        return BinaryPrimitives.ReadUInt64LittleEndian(buffer);
    }

    /// <summary>Reads a little-endian unsigned 32-bit integer.</summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <returns>The value.</returns>
    /// <exception cref="GuestMemoryException">The address is not readable.</exception>
    public static uint ReadUInt32(this IVirtualMemory memory, ulong address)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Span<byte> buffer = stackalloc byte[4];
        memory.Read(address, buffer);
        return BinaryPrimitives.ReadUInt32LittleEndian(buffer);
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes into a new array.</summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <param name="length">How many bytes, at most <see cref="MaxReadLength"/>.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative or above <see cref="MaxReadLength"/>.</exception>
    /// <exception cref="GuestMemoryException">Part of the range is not readable.</exception>
    public static byte[] ReadBytes(this IVirtualMemory memory, ulong address, int length)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxReadLength);
        var bytes = new byte[length];
        memory.Read(address, bytes);
        return bytes;
    }

    /// <summary>
    /// Reads a NUL-terminated UTF-8 string of at most <paramref name="maxBytes"/> bytes. A string
    /// that runs into an unreadable page or past the bound is returned as far as it was read.
    /// </summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address of the first byte.</param>
    /// <param name="maxBytes">The bound, at most <see cref="MaxReadLength"/>.</param>
    /// <returns>The decoded string (invalid UTF-8 becomes U+FFFD).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is negative or above <see cref="MaxReadLength"/>.</exception>
    /// <exception cref="GuestMemoryException">Not even the first byte is readable.</exception>
    public static string ReadUtf8String(this IVirtualMemory memory, ulong address, int maxBytes = 4096)
    {
        var length = ReadTerminated(memory, address, maxBytes, 1, out var buffer);
        try
        {
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads a NUL-terminated UTF-16LE string of at most <paramref name="maxChars"/> characters,
    /// returned as far as it was readable.
    /// </summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address of the first character.</param>
    /// <param name="maxChars">The bound in characters, at most <see cref="MaxReadLength"/> / 2.</param>
    /// <returns>The decoded string.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxChars"/> is negative or above <see cref="MaxReadLength"/> / 2.</exception>
    /// <exception cref="GuestMemoryException">Not even the first character is readable.</exception>
    public static string ReadUtf16String(this IVirtualMemory memory, ulong address, int maxChars = 2048)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxChars, MaxReadLength / 2);
        var length = ReadTerminated(memory, address, maxChars * 2, 2, out var buffer);
        try
        {
            return new string(MemoryMarshal.Cast<byte, char>(buffer.AsSpan(0, length & ~1)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads a UTF-16LE string of a known byte length (as in a Windows UNICODE_STRING).</summary>
    /// <param name="memory">The address space.</param>
    /// <param name="address">The guest virtual address of the buffer.</param>
    /// <param name="byteLength">The length in bytes; odd lengths lose their last byte.</param>
    /// <returns>The string.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="byteLength"/> is negative or above <see cref="MaxReadLength"/>.</exception>
    /// <exception cref="GuestMemoryException">Part of the range is not readable.</exception>
    public static string ReadCountedUtf16String(this IVirtualMemory memory, ulong address, int byteLength)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(byteLength, MaxReadLength);
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(byteLength, 1));
        try
        {
            memory.Read(address, buffer.AsSpan(0, byteLength));
            return new string(MemoryMarshal.Cast<byte, char>(buffer.AsSpan(0, byteLength & ~1)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Reads all of <paramref name="destination"/>, or says why not as the marker a decoder puts in
    /// place of the value: a null pointer, no memory attached, or the page-walk fault.
    /// </summary>
    /// <param name="memory">The address space, or <see langword="null"/> when none is attached.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <returns><see langword="null"/> when every byte was read, else the marker.</returns>
    public static Unreadable? TryReadOrMark(this IVirtualMemory? memory, ulong address, Span<byte> destination)
    {
        if (address == 0)
        {
            return Unreadable.NullPointer;
        }

        if (memory is null)
        {
            return new Unreadable(address, "no guest memory attached");
        }

        // Bad pointers are common in hostile or racing guests: tell the fault without an exception where the walker can.
        var got = memory.ReadPartial(address, destination);
        if (got == destination.Length)
        {
            return null;
        }

        if (memory is X86AddressSpace space && space.Probe(address + (ulong)got) is { } fault)
        {
            return Unreadable.From(address, fault);
        }

        try
        {
            memory.Read(address, destination);
            return null;
        }
        catch (GuestMemoryException ex)
        {
            return Unreadable.From(address, ex);
        }
    }

    /// <summary>Reads what is readable from the start of the range, never throwing.</summary>
    /// <param name="memory">The address space, or <see langword="null"/>.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <param name="destination">Receives up to <c>destination.Length</c> bytes.</param>
    /// <returns>The number of bytes read; 0 for a null pointer, no memory, or any failure.</returns>
    public static int ReadPartialOrNone(this IVirtualMemory? memory, ulong address, Span<byte> destination)
    {
        if (memory is null || address == 0)
        {
            return 0;
        }

        try
        {
            return memory.ReadPartial(address, destination);
        }
        catch (GuestMemoryException)
        {
            return 0;
        }
    }

    /// <summary>The marker of an address that failed to read (asks the memory once more for the precise reason).</summary>
    /// <param name="memory">The address space, or <see langword="null"/>.</param>
    /// <param name="address">The guest virtual address.</param>
    /// <returns>The marker.</returns>
    public static Unreadable MarkerFor(this IVirtualMemory? memory, ulong address)
    {
        Span<byte> one = stackalloc byte[1];
        return memory.TryReadOrMark(address, one) ?? new Unreadable(address, "not readable");
    }

    private static int ReadTerminated(IVirtualMemory memory, ulong address, int maxBytes, int unit, out byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, MaxReadLength);
        buffer = ArrayPool<byte>.Shared.Rent(Math.Max(maxBytes, unit));
        var total = 0;
        while (total < maxBytes)
        {
            // Stop each chunk at a page boundary so an unmapped next page ends the string cleanly.
            var current = address + (ulong)total;
            var toPageEnd = (int)(0x1000 - (current & 0xFFF));
            var want = Math.Min(Math.Min(Chunk, toPageEnd), maxBytes - total);
            var got = memory.ReadPartial(current, buffer.AsSpan(total, want));
            if (got == 0)
            {
                if (total == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = [];
                    memory.Read(address, stackalloc byte[1]); // throws the precise GuestMemoryException
                    throw new GuestMemoryException(address, GuestMemoryFault.NotPresent, 0);
                }

                break;
            }

            var terminator = FindTerminator(buffer.AsSpan(0, total + got), total, unit);
            if (terminator >= 0)
            {
                return terminator;
            }

            total += got;
            if (got < want)
            {
                break;
            }
        }

        return total - (total % unit);
    }

    private static int FindTerminator(ReadOnlySpan<byte> data, int from, int unit)
    {
        var start = from - (from % unit);
        for (var i = start; i + unit <= data.Length; i += unit)
        {
            if (data[i] == 0 && (unit == 1 || data[i + 1] == 0))
            {
                return i;
            }
        }

        return -1;
    }
}
