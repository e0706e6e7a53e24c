using System.Buffers.Binary;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// Looks for the kernel image among the pages a page-table root maps in the upper half: the PML4
/// slot of 0xFFFFF800'00000000 (where ntoskrnl, the HAL and boot drivers are loaded on every x64
/// build) first, then the other kernel slots except the self-map. A page is a candidate when it
/// starts with an x64 PE header; the kernel is the one whose CodeView record names a kernel PDB.
/// One scan has a budget of table pages read, mapped pages looked at and images parsed, shared by every root it
/// is asked about, so hostile or looping tables end the search instead of prolonging it.
/// </summary>
internal sealed class KernelImageScan
{
    /// <summary>The most page-table pages one scan reads (64 MiB).</summary>
    public const int MaxTables = 1 << 14;

    /// <summary>The most mapped 4 KiB pages one scan looks at (4 GiB of mappings).</summary>
    public const long MaxPages = 1L << 20;

    /// <summary>The most pages starting with <c>MZ</c> one scan reads as images.</summary>
    public const int MaxImages = 1 << 13;

    private const ulong FrameMask = 0x000F_FFFF_FFFF_F000;
    private const ulong Present = 1, LargePage = 0x80;
    private const int LoaderSlot = 0x1F0;
    private const ulong Page = 0x1000;

    private static readonly string[] s_kernelPdbs = ["ntkrnlmp.pdb", "ntoskrnl.pdb", "ntkrla57.pdb"];

    private readonly IGuestMemory _memory;
    private readonly CancellationToken _cancellationToken;
    private readonly byte[][] _tables = [new byte[Page], new byte[Page], new byte[Page], new byte[Page]];
    private int _tablesRead;
    private long _pagesSeen;
    private int _imagesTried;

    public KernelImageScan(IGuestMemory memory, CancellationToken cancellationToken)
    {
        _memory = memory;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Gets the number of mapped pages looked at so far.</summary>
    public long PagesSeen => _pagesSeen;

    /// <summary>Gets a value indicating whether the budget is spent.</summary>
    public bool Exhausted => _tablesRead >= MaxTables || _pagesSeen >= MaxPages || _imagesTried >= MaxImages;

    /// <summary>Whether a PDB name is one of the x64 kernel's (<c>ntkrnlmp.pdb</c>, <c>ntoskrnl.pdb</c>, <c>ntkrla57.pdb</c>).</summary>
    public static bool IsKernelPdb(string name) => Array.Exists(s_kernelPdbs, k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Finds the kernel image mapped by <paramref name="root"/>.</summary>
    /// <param name="root">The physical address of the top-level table.</param>
    /// <param name="selfIndex">The table's self-reference, which is not walked.</param>
    /// <returns>The image, or <see langword="null"/> when none is mapped or the budget ran out.</returns>
    public WindowsKernelImage? Find(ulong root, int selfIndex)
    {
        if (!ReadTable(root, 4))
        {
            return null;
        }

        var space = new X86AddressSpace(_memory, root);
        foreach (var slot in Slots(selfIndex))
        {
            var entry = Entry(4, slot);
            if ((entry & Present) == 0)
            {
                continue;
            }

            var image = Walk(space, entry & FrameMask, 3, Canonical((ulong)slot << 39));
            if (image is not null || Exhausted)
            {
                return image;
            }
        }

        return null;
    }

    private static IEnumerable<int> Slots(int selfIndex)
    {
        yield return LoaderSlot;
        for (var slot = 0x100; slot < 0x200; slot++)
        {
            if (slot != LoaderSlot && slot != selfIndex)
            {
                yield return slot;
            }
        }
    }

    private static ulong Canonical(ulong address) => (address & (1UL << 47)) != 0 ? address | 0xFFFF_0000_0000_0000 : address;

    /// <summary>Walks the table at <paramref name="table"/> of <paramref name="level"/> (3 PDPT, 2 PD, 1 PT) mapping from <paramref name="virtualBase"/>.</summary>
    private WindowsKernelImage? Walk(X86AddressSpace space, ulong table, int level, ulong virtualBase)
    {
        if (!ReadTable(table, level))
        {
            return null;
        }

        var shift = 12 + (9 * (level - 1));
        for (var i = 0; i < 512 && !Exhausted; i++)
        {
            var entry = Entry(level, i);
            if ((entry & Present) == 0)
            {
                continue;
            }

            var address = virtualBase + ((ulong)i << shift);
            WindowsKernelImage? image;
            if (level == 1 || (entry & LargePage) != 0)
            {
                var frame = entry & FrameMask & ~((1UL << shift) - 1);
                image = Examine(space, frame, address, 1L << (shift - 12));
            }
            else
            {
                image = Walk(space, entry & FrameMask, level - 1, address);
            }

            if (image is not null)
            {
                return image;
            }
        }

        return null;
    }

    /// <summary>Looks at the first bytes of <paramref name="pages"/> consecutive pages from physical <paramref name="frame"/>.</summary>
    private WindowsKernelImage? Examine(X86AddressSpace space, ulong frame, ulong address, long pages)
    {
        Span<byte> mz = stackalloc byte[2];
        for (long i = 0; i < pages && !Exhausted; i++, _pagesSeen++)
        {
            var physical = frame + ((ulong)i * Page);
            if (GuestMemoryRange.Readable(_memory, physical, Page) < Page)
            {
                return null; // beyond memory, or a hole (the PCI hole of a large guest)
            }

            _memory.Read(physical, mz);
            if (mz[0] != (byte)'M' || mz[1] != (byte)'Z')
            {
                continue;
            }

            _imagesTried++;
            var virtualAddress = address + ((ulong)i * Page);
            if (WindowsKernelImage.TryRead(space, virtualAddress, virtualAddress, space.Root) is { Identity: { } identity } image && IsKernelPdb(identity.DatabaseName))
            {
                return image;
            }
        }

        return null;
    }

    private bool ReadTable(ulong address, int level)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (_tablesRead >= MaxTables || address + Page > _memory.Size)
        {
            return false;
        }

        _tablesRead++;
        try
        {
            _memory.Read(address, _tables[level - 1]);
            return true;
        }
        catch (GuestMemoryException)
        {
            return false;
        }
    }

    private ulong Entry(int level, int index) => BinaryPrimitives.ReadUInt64LittleEndian(_tables[level - 1].AsSpan(index * 8));
}
