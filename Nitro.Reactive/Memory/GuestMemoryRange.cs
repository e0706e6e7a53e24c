namespace Nitro.Reactive.Memory;

/// <summary>A range of guest physical addresses that holds RAM (<see cref="IGuestMemory.RamRanges"/>).</summary>
/// <param name="Start">The first address.</param>
/// <param name="Length">The length in bytes.</param>
public readonly record struct GuestMemoryRange(ulong Start, ulong Length)
{
    /// <summary>Gets the first address after the range.</summary>
    public ulong End => Start + Length;

    /// <summary>Finds the RAM range that holds an address.</summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <param name="address">A guest physical address.</param>
    /// <param name="range">Receives the range.</param>
    /// <returns><see langword="false"/> when the address is no RAM (a hole, or beyond the end).</returns>
    public static bool TryFind(IGuestMemory memory, ulong address, out GuestMemoryRange range)
    {
        ArgumentNullException.ThrowIfNull(memory);
        foreach (var candidate in memory.RamRanges)
        {
            if (address >= candidate.Start && address < candidate.End)
            {
                range = candidate;
                return true;
            }
        }

        range = default;
        return false;
    }

    /// <summary>How many bytes from <paramref name="address"/> up to <paramref name="wanted"/> are RAM without a gap.</summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <param name="address">A guest physical address.</param>
    /// <param name="wanted">The most bytes wanted.</param>
    /// <returns>The bytes readable in one piece (0 when the address is no RAM).</returns>
    public static ulong Readable(IGuestMemory memory, ulong address, ulong wanted) =>
        TryFind(memory, address, out var range) ? Math.Min(wanted, range.End - address) : 0;
}
