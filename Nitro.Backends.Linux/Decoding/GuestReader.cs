using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>
/// Bounded reads from the caller's address space that turn every failure into an
/// <see cref="Unreadable"/> marker instead of an exception.
/// </summary>
internal readonly struct GuestReader
{
    private readonly IVirtualMemory? _memory;

    public GuestReader(IVirtualMemory? memory, int pointerWidth)
    {
        _memory = memory;
        PointerWidth = pointerWidth;
    }

    public int PointerWidth { get; }

    public bool HasMemory => _memory is not null;

    public static Unreadable Null => Unreadable.NullPointer;

    /// <summary>A NUL-terminated UTF-8 string, or a marker when not even its first byte is readable.</summary>
    public object ReadString(ulong address, int maxBytes)
    {
        if (address == 0)
        {
            return Null;
        }

        if (_memory is null)
        {
            return NoMemory(address);
        }

        try
        {
            return _memory.ReadUtf8String(address, maxBytes);
        }
        catch (GuestMemoryException ex)
        {
            return Unreadable.From(address, ex);
        }
    }

    /// <summary>Reads all of <paramref name="destination"/>, or returns the marker of the failure.</summary>
    public Unreadable? TryRead(ulong address, Span<byte> destination) => _memory.TryReadOrMark(address, destination);

    /// <summary>Reads what is readable from the start of the range; 0 on any failure.</summary>
    public int ReadPartial(ulong address, Span<byte> destination) => _memory.ReadPartialOrNone(address, destination);

    /// <summary>The marker for an address that failed to read (asks the memory once more for the precise reason).</summary>
    public Unreadable MarkerFor(ulong address) => _memory.MarkerFor(address);

    private static Unreadable NoMemory(ulong address) => new(address, "no guest memory attached");
}
