namespace Nitro.Reactive.Memory;

/// <summary>
/// Guest physical memory: the RAM of a virtual machine as the host sees it (a shared-memory
/// file, <c>/proc/&lt;pid&gt;/mem</c>, a dump, or a byte array in tests).
/// </summary>
public interface IGuestMemory
{
    /// <summary>Gets the number of bytes of guest physical address space this source covers.</summary>
    ulong Size { get; }

    /// <summary>
    /// Gets the ranges of guest physical addresses that hold RAM, in address order: one from 0 to
    /// <see cref="Size"/> unless the source says otherwise (a PC guest with RAM above the 32-bit PCI
    /// hole has two, and reads in the hole fail). Scans of all of memory go range by range.
    /// </summary>
    IReadOnlyList<GuestMemoryRange> RamRanges => [new GuestMemoryRange(0, Size)];

    /// <summary>Reads guest physical memory.</summary>
    /// <param name="physicalAddress">The first guest physical address.</param>
    /// <param name="destination">Receives exactly <c>destination.Length</c> bytes.</param>
    /// <exception cref="GuestMemoryException">Part of the range is outside guest memory.</exception>
    void Read(ulong physicalAddress, Span<byte> destination);

    /// <summary>Writes guest physical memory.</summary>
    /// <param name="physicalAddress">The first guest physical address.</param>
    /// <param name="source">The bytes to write.</param>
    /// <exception cref="GuestMemoryException">Part of the range is outside guest memory.</exception>
    /// <exception cref="NotSupportedException">The source is read-only (a recording or a dump).</exception>
    void Write(ulong physicalAddress, ReadOnlySpan<byte> source);
}

/// <summary>
/// Guest virtual memory of one address space (one page-table root), as seen by the code that
/// trapped. Implemented by the x86-64 page-table walker.
/// </summary>
public interface IVirtualMemory
{
    /// <summary>Reads guest virtual memory; the range may cross pages.</summary>
    /// <param name="virtualAddress">The first guest virtual address.</param>
    /// <param name="destination">Receives exactly <c>destination.Length</c> bytes.</param>
    /// <exception cref="GuestMemoryException">An address is non-canonical, unmapped or outside guest memory.</exception>
    void Read(ulong virtualAddress, Span<byte> destination);

    /// <summary>Reads as many bytes as are readable, stopping at the first unreadable page.</summary>
    /// <param name="virtualAddress">The first guest virtual address.</param>
    /// <param name="destination">Receives up to <c>destination.Length</c> bytes.</param>
    /// <returns>The number of bytes read (0 when the first byte is unreadable).</returns>
    int ReadPartial(ulong virtualAddress, Span<byte> destination);

    /// <summary>Writes guest virtual memory; the range may cross pages.</summary>
    /// <param name="virtualAddress">The first guest virtual address.</param>
    /// <param name="source">The bytes to write.</param>
    /// <exception cref="GuestMemoryException">An address is non-canonical, unmapped or outside guest memory.</exception>
    void Write(ulong virtualAddress, ReadOnlySpan<byte> source);
}
