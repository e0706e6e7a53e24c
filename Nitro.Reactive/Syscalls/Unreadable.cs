using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Syscalls;

/// <summary>
/// The value of a decoded argument that could not be read from the guest (a bad pointer, an
/// unmapped page). Decoders put it where the value would be, so one bad pointer never loses
/// the whole call.
/// </summary>
public sealed class Unreadable : IEquatable<Unreadable>
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="address">The guest virtual address that could not be read.</param>
    /// <param name="reason">A short reason (for example <c>not mapped</c>).</param>
    public Unreadable(ulong address, string reason)
    {
        Address = address;
        Reason = reason ?? throw new ArgumentNullException(nameof(reason));
    }

    /// <summary>Gets the marker of a null pointer (address 0).</summary>
    public static Unreadable NullPointer { get; } = new(0, "null pointer");

    /// <summary>Gets the address that could not be read.</summary>
    public ulong Address { get; }

    /// <summary>Gets the reason.</summary>
    public string Reason { get; }

    /// <summary>Creates the marker for a failed guest memory access.</summary>
    /// <param name="address">The address of the argument.</param>
    /// <param name="exception">The failure.</param>
    /// <returns>The marker.</returns>
    public static Unreadable From(ulong address, GuestMemoryException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return From(address, exception.Fault);
    }

    /// <summary>Creates the marker for a guest memory fault.</summary>
    /// <param name="address">The address of the argument.</param>
    /// <param name="fault">The fault.</param>
    /// <returns>The marker.</returns>
    public static Unreadable From(ulong address, GuestMemoryFault fault)
    {
        return new Unreadable(address, fault switch
        {
            GuestMemoryFault.NotPresent => "not mapped",
            GuestMemoryFault.NonCanonical => "non-canonical",
            GuestMemoryFault.OutOfRange => "outside guest memory",
            GuestMemoryFault.BadEntry => "bad page-table entry",
            _ => fault.ToString(),
        });
    }

    /// <inheritdoc />
    public bool Equals(Unreadable? other) =>
        other is not null && Address == other.Address && string.Equals(Reason, other.Reason, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Unreadable);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Address, Reason);

    /// <inheritdoc />
    public override string ToString() => $"<unreadable 0x{Address:x}: {Reason}>";
}
