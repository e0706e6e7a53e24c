using System.Buffers.Binary;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

/// <summary>
/// Builds x86-64 page tables in a byte array. Tables are allocated from <see cref="TableRegion"/>
/// (1 MiB, 256 tables); data pages are free for the test to choose elsewhere, for example the
/// 2 MiB-aligned region at <see cref="LargeRegion"/>.
/// </summary>
internal sealed class PageTableBuilder
{
    public const ulong Present = 1;
    public const ulong Writable = 2;
    public const ulong PageSize = 1UL << 7;
    public const ulong TableRegion = 0x10_0000;
    public const ulong LargeRegion = 0x20_0000;
    public const int DefaultSize = 0x40_0000;

    private ulong _nextTable = TableRegion;

    public PageTableBuilder(PagingMode mode = PagingMode.FourLevel, int size = DefaultSize)
    {
        Mode = mode;
        Bytes = new byte[size];
        Memory = new ArrayGuestMemory(Bytes);
        Root = AllocateTable();
    }

    public PagingMode Mode { get; }

    public byte[] Bytes { get; }

    public ArrayGuestMemory Memory { get; }

    public ulong Root { get; }

    /// <summary>Bits OR-ed into every table and leaf entry written from now on (e.g. NX, software bits).</summary>
    public ulong ExtraBits { get; set; }

    public ulong AllocateTable()
    {
        var table = _nextTable;
        _nextTable += 0x1000;
        if (_nextTable > LargeRegion)
        {
            throw new InvalidOperationException("PageTableBuilder ran out of table frames.");
        }

        return table;
    }

    public X86AddressSpace AddressSpace(TranslationCache? cache = null) => new(Memory, Root, Mode, cache);

    public PageTableBuilder Map4K(ulong virtualAddress, ulong physicalAddress) =>
        MapLeaf(virtualAddress, 1, physicalAddress);

    public PageTableBuilder Map2M(ulong virtualAddress, ulong physicalAddress) =>
        MapLeaf(virtualAddress, 2, physicalAddress | PageSize);

    public PageTableBuilder Map1G(ulong virtualAddress, ulong physicalAddress) =>
        MapLeaf(virtualAddress, 3, physicalAddress | PageSize);

    /// <summary>Gets the physical address of the entry that translates <paramref name="virtualAddress"/> at <paramref name="level"/>.</summary>
    public ulong EntryAddress(ulong virtualAddress, int level)
    {
        var table = Root;
        for (var current = (int)Mode; current > level; current--)
        {
            var entry = ReadEntry(table, virtualAddress, current);
            if ((entry & Present) == 0)
            {
                throw new InvalidOperationException($"No level-{current - 1} table for 0x{virtualAddress:x}.");
            }

            table = entry & 0x000F_FFFF_FFFF_F000;
        }

        return table + (Index(virtualAddress, level) * 8);
    }

    public ulong GetEntry(ulong virtualAddress, int level) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(checked((int)EntryAddress(virtualAddress, level)), 8));

    public void SetEntry(ulong virtualAddress, int level, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(checked((int)EntryAddress(virtualAddress, level)), 8), value);

    public void WriteEntryAt(ulong table, int index, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(checked((int)table + (index * 8)), 8), value);

    public void WriteBytes(ulong physicalAddress, ReadOnlySpan<byte> data) => data.CopyTo(Bytes.AsSpan(checked((int)physicalAddress)));

    private static ulong Index(ulong virtualAddress, int level) => (virtualAddress >> (12 + (9 * (level - 1)))) & 0x1FF;

    private PageTableBuilder MapLeaf(ulong virtualAddress, int leafLevel, ulong value)
    {
        var table = Root;
        for (var level = (int)Mode; level > leafLevel; level--)
        {
            var entry = ReadEntry(table, virtualAddress, level);
            if ((entry & Present) == 0)
            {
                entry = AllocateTable() | Present | Writable | ExtraBits;
                WriteEntry(table, virtualAddress, level, entry);
            }

            table = entry & 0x000F_FFFF_FFFF_F000;
        }

        WriteEntry(table, virtualAddress, leafLevel, value | Present | Writable | ExtraBits);
        return this;
    }

    private ulong ReadEntry(ulong table, ulong virtualAddress, int level) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(checked((int)(table + (Index(virtualAddress, level) * 8))), 8));

    private void WriteEntry(ulong table, ulong virtualAddress, int level, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(checked((int)(table + (Index(virtualAddress, level) * 8))), 8), value);
}
