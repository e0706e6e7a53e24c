namespace Nitro.Reactive.Memory;

/// <summary>Why a guest memory access failed.</summary>
public enum GuestMemoryFault
{
    /// <summary>The physical address lies outside the guest's memory.</summary>
    OutOfRange,

    /// <summary>The virtual address is not canonical for the paging mode.</summary>
    NonCanonical,

    /// <summary>A page-table entry on the walk was not present.</summary>
    NotPresent,

    /// <summary>A page-table entry pointed outside guest memory or had reserved bits set.</summary>
    BadEntry,
}

/// <summary>
/// A guest memory access failed. Carries the address and, for virtual addresses, the paging
/// level at which the walk stopped (5 = PML5 … 1 = page table, 0 = the final physical access).
/// </summary>
public sealed class GuestMemoryException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="address">The address that could not be accessed.</param>
    /// <param name="fault">Why.</param>
    /// <param name="level">The paging level at which the walk stopped, or 0 for a physical access.</param>
    /// <param name="message">A message naming the address and what to do next.</param>
    public GuestMemoryException(ulong address, GuestMemoryFault fault, int level, string message)
        : base(message)
    {
        Address = address;
        Fault = fault;
        Level = level;
    }

    /// <summary>Initializes a new instance with a default message.</summary>
    /// <param name="address">The address that could not be accessed.</param>
    /// <param name="fault">Why.</param>
    /// <param name="level">The paging level at which the walk stopped, or 0 for a physical access.</param>
    public GuestMemoryException(ulong address, GuestMemoryFault fault, int level)
        : this(address, fault, level, DefaultMessage(address, fault, level))
    {
    }

    /// <summary>Gets the address that could not be accessed (virtual for walks, physical otherwise).</summary>
    public ulong Address { get; }

    /// <summary>Gets why the access failed.</summary>
    public GuestMemoryFault Fault { get; }

    /// <summary>Gets the paging level at which the walk stopped (5…1), or 0 for the final physical access.</summary>
    public int Level { get; }

    private static string DefaultMessage(ulong address, GuestMemoryFault fault, int level) => fault switch
    {
        GuestMemoryFault.OutOfRange => $"Guest physical address 0x{address:x} is outside guest memory.",
        GuestMemoryFault.NonCanonical => $"Guest virtual address 0x{address:x} is not canonical.",
        GuestMemoryFault.NotPresent => $"Guest virtual address 0x{address:x} is not mapped (entry not present at level {level}).",
        GuestMemoryFault.BadEntry => $"Guest virtual address 0x{address:x}: the page-table entry at level {level} is invalid (reserved bits or a frame outside guest memory).",
        _ => $"Guest memory access at 0x{address:x} failed ({fault}, level {level}).",
    };
}
