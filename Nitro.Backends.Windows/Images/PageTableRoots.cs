using System.Buffers.Binary;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// Finds the page-table roots of a Windows x64 guest in its physical memory alone. Every Windows x64
/// top-level table maps itself: exactly one of its upper-half entries points back at the page
/// (index 0x1ED up to Windows 10 1511, a boot-time random index in 0x100–0x1FF since 1607), present,
/// writable and supervisor-only. The System process's table lies low in memory (Volatility 3 looks
/// at 0x1A0000–0x2A0000 and 0x650000–0x6F0000 first, then 0x30000–0x1030000), so those ranges are
/// scanned first and the rest of memory, up to a bound, after them.
/// </summary>
internal static class PageTableRoots
{
    /// <summary>How much physical memory is scanned at most (256 MiB).</summary>
    public const ulong MaxScan = 256UL << 20;

    private const ulong Page = 0x1000;
    private const ulong FrameMask = 0x000F_FFFF_FFFF_F000;
    private const ulong Present = 1, Writable = 2, User = 4, CacheDisabled = 0x10;
    private const int Entries = 512;
    private const int FirstKernelEntry = 0x100;

    private static readonly (ulong Start, ulong End)[] s_likely = [(0x1A_0000, 0x2A_0000), (0x65_0000, 0x6F_0000), (0x3_0000, 0x103_0000)];

    /// <summary>Enumerates the roots lazily: the likely ranges first, then the rest of the first <see cref="MaxScan"/> bytes.</summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>Each root's physical address and the index of its self-reference, in scan order, each once.</returns>
    public static IEnumerable<(ulong Root, int SelfIndex)> Enumerate(IGuestMemory memory, CancellationToken cancellationToken)
    {
        var end = ScanEnd(memory);
        var seen = new HashSet<ulong>();
        var page = new byte[Page];

        // The likely ranges, then the rest: below them and above them (they all lie in 0x30000–0x1030000).
        (ulong Start, ulong End)[] ranges = [.. s_likely, (Page, s_likely.Min(r => r.Start)), (s_likely.Max(r => r.End), end)];
        foreach (var (start, stop) in ranges)
        {
            for (var address = start; address + Page <= Math.Min(stop, end); address += Page)
            {
                if ((address & 0xF_FFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                if (TryReadPage(memory, address, page) && IsRoot(page, address, out var selfIndex) && seen.Add(address))
                {
                    yield return (address, selfIndex);
                }
            }
        }
    }

    /// <summary>Where <see cref="Enumerate"/> stops: the end of memory or <see cref="MaxScan"/>.</summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <returns>The first address not scanned.</returns>
    public static ulong ScanEnd(IGuestMemory memory) => Math.Min(memory.Size & ~(Page - 1), MaxScan);

    /// <summary>Whether <paramref name="table"/> (a page at <paramref name="address"/>) is a Windows x64 top-level table.</summary>
    /// <param name="table">The page's 4096 bytes.</param>
    /// <param name="address">Its physical address.</param>
    /// <param name="selfIndex">Receives the index of the self-referencing entry.</param>
    /// <returns><see langword="true"/> for exactly one present, writable, supervisor self-reference in the upper half, no cache-disabled entry, and at least one other kernel entry.</returns>
    public static bool IsRoot(ReadOnlySpan<byte> table, ulong address, out int selfIndex)
    {
        selfIndex = -1;
        if (address == 0 || table.Length < (int)Page)
        {
            return false;
        }

        var kernelEntries = 0;
        for (var i = 0; i < Entries; i++)
        {
            var entry = BinaryPrimitives.ReadUInt64LittleEndian(table[(i * 8)..]);
            if ((entry & Present) == 0)
            {
                continue;
            }

            // Windows never maps its top level uncached; random data has this bit in every other word.
            if ((entry & CacheDisabled) != 0)
            {
                return false;
            }

            if ((entry & FrameMask) == address)
            {
                if (selfIndex >= 0 || i < FirstKernelEntry || (entry & (Writable | User)) != Writable)
                {
                    return false;
                }

                selfIndex = i;
            }
            else if (i >= FirstKernelEntry)
            {
                kernelEntries++;
            }
        }

        return selfIndex >= 0 && kernelEntries > 0;
    }

    private static bool TryReadPage(IGuestMemory memory, ulong address, byte[] page)
    {
        try
        {
            memory.Read(address, page);
            return true;
        }
        catch (GuestMemoryException)
        {
            return false;
        }
    }
}
