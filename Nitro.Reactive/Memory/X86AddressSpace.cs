using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Nitro.Reactive.Events;

namespace Nitro.Reactive.Memory;

/// <summary>The x86-64 paging mode of an address space.</summary>
public enum PagingMode
{
    /// <summary>4-level paging: 48-bit virtual addresses (PML4, PDPT, PD, PT).</summary>
    FourLevel = 4,

    /// <summary>5-level paging (CR4.LA57): 57-bit virtual addresses (PML5 on top).</summary>
    FiveLevel = 5,
}

/// <summary>
/// The guest virtual address space of one page-table root: translates addresses by walking the
/// x86-64 page tables (4- or 5-level, 4 KiB, 2 MiB and 1 GiB pages) in guest physical memory,
/// optionally through a shared <see cref="TranslationCache"/>.
/// </summary>
/// <remarks>
/// The walk reads only the frame address and the present and page-size bits of each entry;
/// access rights (user, writable, NX) are not checked, since the SDK reads what the kernel could
/// read. The walk has a fixed depth, so recursive or looping page tables translate to some
/// address (as the hardware would) and never hang.
/// </remarks>
public sealed class X86AddressSpace : IVirtualMemory
{
    internal const ulong TagValid = 1;
    internal const ulong TagFiveLevel = 2;

    private const ulong FrameMask = 0x000F_FFFF_FFFF_F000;
    private const ulong Frame2MiBMask = 0x000F_FFFF_FFE0_0000;
    private const ulong Frame1GiBMask = 0x000F_FFFF_C000_0000;
    private const ulong Present = 1;
    private const ulong PageSize = 1UL << 7;
    private const int PageShift = 12;
    private const ulong PageOffsetMask = 0xFFF;

    private readonly IGuestMemory _memory;
    private readonly TranslationCache? _cache;
    private readonly ulong _tag;
    private readonly int _levels;
    private readonly int _canonicalShift;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="memory">Guest physical memory holding the page tables.</param>
    /// <param name="cr3">The CR3 value (or page-table root) of the address space.</param>
    /// <param name="mode">4- or 5-level paging.</param>
    /// <param name="cache">A translation cache to share, or <see langword="null"/> to walk every time.</param>
    /// <param name="cr3Mask">
    /// The bits of <paramref name="cr3"/> that form the root; it can only remove bits from
    /// <see cref="PageTableBits.Cr3AddressMask"/> (use <see cref="PageTableBits.Cr3KptiAddressMask"/> for Linux KPTI guests).
    /// </param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not a defined mode.</exception>
    public X86AddressSpace(
        IGuestMemory memory,
        ulong cr3,
        PagingMode mode = PagingMode.FourLevel,
        TranslationCache? cache = null,
        ulong cr3Mask = PageTableBits.Cr3AddressMask)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (mode is not (PagingMode.FourLevel or PagingMode.FiveLevel))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only 4-level and 5-level paging are supported.");
        }

        _memory = memory;
        _cache = cache;
        Mode = mode;
        Root = cr3 & cr3Mask & PageTableBits.Cr3AddressMask;
        _levels = (int)mode;
        _canonicalShift = mode == PagingMode.FiveLevel ? 64 - 57 : 64 - 48;
        _tag = Root | TagValid | (mode == PagingMode.FiveLevel ? TagFiveLevel : 0);
    }

    /// <summary>Gets the guest physical address of the top-level page table.</summary>
    public ulong Root { get; }

    /// <summary>Gets the paging mode.</summary>
    public PagingMode Mode { get; }

    /// <summary>Gets the guest physical memory the page tables live in.</summary>
    public IGuestMemory Memory => _memory;

    /// <summary>Gets the translation cache, if any.</summary>
    public TranslationCache? Cache => _cache;

    /// <summary>
    /// Creates the address space of the context whose special registers are given: 5-level paging
    /// when CR4.LA57 is set, and CR3 without its PCID, no-flush (and, for KPTI, user-root) bits.
    /// </summary>
    /// <param name="memory">Guest physical memory holding the page tables.</param>
    /// <param name="specialRegisters">The special registers of the trapping vCPU.</param>
    /// <param name="cache">A translation cache to share, or <see langword="null"/>.</param>
    /// <param name="kpti">Whether to also clear CR3 bit 12, mapping a Linux KPTI user root to its kernel root.</param>
    /// <returns>The address space.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is <see langword="null"/>.</exception>
    public static X86AddressSpace FromRegisters(IGuestMemory memory, in SpecialRegisters specialRegisters, TranslationCache? cache = null, bool kpti = false) =>
        new(
            memory,
            specialRegisters.Cr3,
            (specialRegisters.Cr4 & PageTableBits.Cr4La57) != 0 ? PagingMode.FiveLevel : PagingMode.FourLevel,
            cache,
            kpti ? PageTableBits.Cr3KptiAddressMask : PageTableBits.Cr3AddressMask);

    /// <summary>Translates a guest virtual address to a guest physical address.</summary>
    /// <param name="virtualAddress">The virtual address.</param>
    /// <returns>The physical address.</returns>
    /// <exception cref="GuestMemoryException">
    /// The address is non-canonical, not mapped, or a page-table entry on the way points outside guest memory.
    /// </exception>
    public ulong Translate(ulong virtualAddress)
    {
        var cache = _cache;
        if (cache is not null && cache.TryGet(_tag, virtualAddress >> PageShift, out var frame))
        {
            return frame | (virtualAddress & PageOffsetMask);
        }

        var result = Walk(virtualAddress, cache, out var physicalAddress);
        if (result.Fault is not null)
        {
            ThrowFault(virtualAddress, result);
        }

        return physicalAddress;
    }

    /// <summary>Translates a guest virtual address without throwing.</summary>
    /// <param name="virtualAddress">The virtual address.</param>
    /// <param name="physicalAddress">The physical address, or 0 on failure.</param>
    /// <returns><see langword="true"/> when the address is mapped.</returns>
    public bool TryTranslate(ulong virtualAddress, out ulong physicalAddress)
    {
        var cache = _cache;
        if (cache is not null && cache.TryGet(_tag, virtualAddress >> PageShift, out var frame))
        {
            physicalAddress = frame | (virtualAddress & PageOffsetMask);
            return true;
        }

        return Walk(virtualAddress, cache, out physicalAddress).Fault is null;
    }

    /// <summary>Says why a guest virtual address cannot be translated, without throwing.</summary>
    /// <param name="virtualAddress">The virtual address.</param>
    /// <returns>The fault, or <see langword="null"/> when the address is mapped.</returns>
    public GuestMemoryFault? Probe(ulong virtualAddress)
    {
        var cache = _cache;
        return cache is not null && cache.TryGet(_tag, virtualAddress >> PageShift, out _) ? null : Walk(virtualAddress, cache, out _).Fault;
    }

    /// <inheritdoc />
    public void Read(ulong virtualAddress, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var chunk = ChunkLength(virtualAddress, destination.Length);
            _memory.Read(Translate(virtualAddress), destination[..chunk]);
            destination = destination[chunk..];
            virtualAddress += (ulong)chunk;
        }
    }

    /// <inheritdoc />
    public int ReadPartial(ulong virtualAddress, Span<byte> destination)
    {
        var total = 0;
        var size = _memory.Size;
        while (total < destination.Length)
        {
            var chunk = ChunkLength(virtualAddress, destination.Length - total);
            if (!TryTranslate(virtualAddress, out var physicalAddress)
                || physicalAddress > size
                || (ulong)chunk > size - physicalAddress)
            {
                break;
            }

            try
            {
                _memory.Read(physicalAddress, destination.Slice(total, chunk));
            }
            catch (GuestMemoryException)
            {
                break; // a hole in a sparse memory source
            }

            total += chunk;
            virtualAddress += (ulong)chunk;
        }

        return total;
    }

    /// <inheritdoc />
    /// <remarks>Every page of the range is translated before the first byte is written, so an unmapped page leaves the guest unchanged.</remarks>
    public void Write(ulong virtualAddress, ReadOnlySpan<byte> source)
    {
        var address = virtualAddress;
        for (var remaining = source.Length; remaining > 0;)
        {
            var chunk = ChunkLength(address, remaining);
            Translate(address);
            remaining -= chunk;
            address += (ulong)chunk;
        }

        while (!source.IsEmpty)
        {
            var chunk = ChunkLength(virtualAddress, source.Length);
            _memory.Write(Translate(virtualAddress), source[..chunk]);
            source = source[chunk..];
            virtualAddress += (ulong)chunk;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"x86-64 {_levels}-level address space, root 0x{Root:x}";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ChunkLength(ulong virtualAddress, int remaining) =>
        (int)Math.Min((ulong)remaining, 0x1000 - (virtualAddress & PageOffsetMask));

    private WalkResult Walk(ulong virtualAddress, TranslationCache? cache, out ulong physicalAddress)
    {
        physicalAddress = 0;
        if ((ulong)((long)virtualAddress << _canonicalShift >> _canonicalShift) != virtualAddress)
        {
            return new WalkResult(GuestMemoryFault.NonCanonical, _levels);
        }

        var ticket = cache?.Begin() ?? default;
        var table = Root;
        ulong frame = 0;
        for (var level = _levels; level >= 1; level--)
        {
            var shift = PageShift + (9 * (level - 1));
            var entryAddress = table + (((virtualAddress >> shift) & 0x1FF) * 8);
            if (!TryReadEntry(entryAddress, out var entry))
            {
                // The table this level reads lies outside guest memory: CR3 (top level) or the
                // entry one level up is bad.
                return level == _levels
                    ? new WalkResult(GuestMemoryFault.OutOfRange, level)
                    : new WalkResult(GuestMemoryFault.BadEntry, level + 1);
            }

            if ((entry & Present) == 0)
            {
                return new WalkResult(GuestMemoryFault.NotPresent, level);
            }

            if (level == 3 && (entry & PageSize) != 0)
            {
                frame = (entry & Frame1GiBMask) | (virtualAddress & 0x3FFF_F000);
                break;
            }

            if (level == 2 && (entry & PageSize) != 0)
            {
                frame = (entry & Frame2MiBMask) | (virtualAddress & 0x1F_F000);
                break;
            }

            table = entry & FrameMask;
            frame = table;
        }

        cache?.Add(_tag, virtualAddress >> PageShift, frame, ticket);
        physicalAddress = frame | (virtualAddress & PageOffsetMask);
        return default;
    }

    private bool TryReadEntry(ulong physicalAddress, out ulong entry)
    {
        var size = _memory.Size;
        if (physicalAddress > size || size - physicalAddress < 8)
        {
            entry = 0;
            return false;
        }

        Span<byte> bytes = stackalloc byte[8];
        try
        {
            _memory.Read(physicalAddress, bytes);
        }
        catch (GuestMemoryException)
        {
            entry = 0;
            return false; // a hole in a sparse memory source
        }

        entry = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return true;
    }

    [DoesNotReturn]
    private void ThrowFault(ulong virtualAddress, WalkResult result)
    {
        var fault = result.Fault.GetValueOrDefault();
        var message = fault switch
        {
            GuestMemoryFault.NonCanonical =>
                $"Guest virtual address 0x{virtualAddress:x} is not canonical for {_levels}-level paging: it cannot be mapped. " +
                "The pointer is probably corrupt or not a pointer.",
            GuestMemoryFault.NotPresent =>
                $"Guest virtual address 0x{virtualAddress:x} is not mapped in the address space with root 0x{Root:x}: " +
                $"the level-{result.Level} entry is not present (swapped out, never touched, or a bad pointer).",
            GuestMemoryFault.OutOfRange =>
                $"The page-table root 0x{Root:x} (translating 0x{virtualAddress:x}) is outside guest memory of 0x{_memory.Size:x} bytes. " +
                "Check the CR3 value and its mask, and that the memory source covers all guest RAM.",
            _ =>
                $"Translating guest virtual address 0x{virtualAddress:x} (root 0x{Root:x}): the level-{result.Level} page-table entry " +
                $"points outside guest memory of 0x{_memory.Size:x} bytes. The page tables are corrupt, or the memory source does not cover all guest RAM.",
        };
        throw new GuestMemoryException(virtualAddress, fault, result.Level, message);
    }

    private readonly record struct WalkResult(GuestMemoryFault? Fault, int Level);
}
