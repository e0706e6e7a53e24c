using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

public sealed class X86AddressSpaceTests
{
    private const ulong UserPage = 0x0000_7FFF_1234_5000;
    private const ulong KernelPage = 0xFFFF_8880_0010_0000;

    [Test]
    public void Translate_follows_4KiB_pages()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x5000).Map4K(KernelPage, 0x7000);
        var space = builder.AddressSpace();

        Assert.Multiple(() =>
        {
            Assert.That(space.Translate(UserPage + 0x123), Is.EqualTo(0x5123UL));
            Assert.That(space.Translate(KernelPage + 0xFFF), Is.EqualTo(0x7FFFUL));
        });
    }

    [Test]
    public void Translate_follows_2MiB_pages()
    {
        const ulong va = 0x0000_7F00_0040_0000;
        var space = new PageTableBuilder().Map2M(va, PageTableBuilder.LargeRegion).AddressSpace();

        Assert.Multiple(() =>
        {
            Assert.That(space.Translate(va), Is.EqualTo(PageTableBuilder.LargeRegion));
            Assert.That(space.Translate(va + 0x1A_BCDE), Is.EqualTo(PageTableBuilder.LargeRegion + 0x1A_BCDE));
        });
    }

    [Test]
    public void Translate_follows_1GiB_pages()
    {
        const ulong va = 0xFFFF_FFFF_8000_0000;
        var space = new PageTableBuilder().Map1G(va, 0x1_4000_0000).AddressSpace();

        Assert.That(space.Translate(va + 0x3ABC_DEF1), Is.EqualTo(0x1_7ABC_DEF1UL));
    }

    [Test]
    public void Read_through_a_1GiB_page_reaches_guest_memory()
    {
        const ulong va = 0x0000_0040_0000_0000;
        var builder = new PageTableBuilder().Map1G(va, 0);
        builder.WriteBytes(0x3F_F000, "gigapage"u8);

        Assert.That(builder.AddressSpace().ReadBytes(va + 0x3F_F000, 8), Is.EqualTo("gigapage"u8.ToArray()));
    }

    [Test]
    public void Translate_walks_five_levels()
    {
        const ulong high = 0x00FF_1234_5678_9000; // needs bits 48..55: only 5-level paging maps it
        const ulong kernel = 0xFF11_0000_0000_0000;
        var builder = new PageTableBuilder(PagingMode.FiveLevel).Map4K(high, 0x8000).Map2M(kernel, PageTableBuilder.LargeRegion);
        var space = builder.AddressSpace();

        Assert.Multiple(() =>
        {
            Assert.That(space.Mode, Is.EqualTo(PagingMode.FiveLevel));
            Assert.That(space.Translate(high + 0x10), Is.EqualTo(0x8010UL));
            Assert.That(space.Translate(kernel + 0x12_3456), Is.EqualTo(PageTableBuilder.LargeRegion + 0x12_3456));
        });
    }

    [Test]
    public void Translate_ignores_NX_and_other_high_bits_of_entries()
    {
        var builder = new PageTableBuilder { ExtraBits = 0xFFF0_0000_0000_0000 | (1UL << 63) | 0x100 };
        builder.Map4K(UserPage, 0x5000).Map2M(0x4000_0000, PageTableBuilder.LargeRegion).Map1G(0x80_0000_0000, 0x4000_0000);
        builder.SetEntry(0x4000_0000, 2, builder.GetEntry(0x4000_0000, 2) | 0x1000); // PAT bit of a 2 MiB page
        var space = builder.AddressSpace();

        Assert.Multiple(() =>
        {
            Assert.That(space.Translate(UserPage + 8), Is.EqualTo(0x5008UL));
            Assert.That(space.Translate(0x4000_0000 + 0x1234), Is.EqualTo(PageTableBuilder.LargeRegion + 0x1234));
            Assert.That(space.Translate(0x80_0000_0000 + 0x1234), Is.EqualTo(0x4000_1234UL));
        });
    }

    [Test]
    public void Read_crosses_a_page_boundary_into_a_mapped_page()
    {
        // Two adjacent virtual pages on non-adjacent, reversed frames.
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000).Map4K(UserPage + 0x1000, 0x3000);
        builder.WriteBytes(0x9FFC, "abcd"u8);
        builder.WriteBytes(0x3000, "efgh"u8);

        var bytes = new byte[8];
        builder.AddressSpace().Read(UserPage + 0xFFC, bytes);

        Assert.That(bytes, Is.EqualTo("abcdefgh"u8.ToArray()));
    }

    [Test]
    public void Read_into_an_unmapped_page_throws_NotPresent_naming_that_page()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000);
        var space = builder.AddressSpace();

        var ex = Assert.Throws<GuestMemoryException>(() => space.Read(UserPage + 0xFF0, new byte[32]));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.NotPresent));
            Assert.That(ex.Address, Is.EqualTo(UserPage + 0x1000));
            Assert.That(ex.Level, Is.EqualTo(1));
            Assert.That(ex.Message, Does.Contain("0x7fff12346000"));
        });
    }

    [Test]
    public void ReadPartial_stops_at_the_first_unreadable_page()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000).Map4K(UserPage + 0x2000, 0xA000);
        builder.WriteBytes(0x9FF0, Enumerable.Repeat((byte)0xAB, 16).ToArray());
        var buffer = new byte[0x3000];

        var read = builder.AddressSpace().ReadPartial(UserPage + 0xFF0, buffer);

        Assert.Multiple(() =>
        {
            Assert.That(read, Is.EqualTo(16));
            Assert.That(buffer.AsSpan(0, 16).ToArray(), Is.All.EqualTo(0xAB));
        });
    }

    [Test]
    public void ReadPartial_reads_everything_when_all_pages_are_mapped()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000).Map4K(UserPage + 0x1000, 0xA000);

        Assert.That(builder.AddressSpace().ReadPartial(UserPage + 0x10, new byte[0x1FF0]), Is.EqualTo(0x1FF0));
    }

    [Test]
    public void ReadPartial_returns_zero_for_unmapped_noncanonical_and_outside_memory()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000).Map4K(UserPage + 0x1000, 0x7FFF_F000);
        var space = builder.AddressSpace();

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadPartial(KernelPage, new byte[16]), Is.Zero);
            Assert.That(space.ReadPartial(0x8000_0000_0000_0000, new byte[16]), Is.Zero);
            Assert.That(space.ReadPartial(UserPage + 0xFF8, new byte[16]), Is.EqualTo(8), "leaf frame outside guest memory");
        });
    }

    [Test]
    public void Write_crosses_page_boundaries()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000).Map4K(UserPage + 0x1000, 0x3000);

        builder.AddressSpace().Write(UserPage + 0xFFE, "wxyz"u8);

        Assert.Multiple(() =>
        {
            Assert.That(builder.Bytes.AsSpan(0x9FFE, 2).ToArray(), Is.EqualTo("wx"u8.ToArray()));
            Assert.That(builder.Bytes.AsSpan(0x3000, 2).ToArray(), Is.EqualTo("yz"u8.ToArray()));
        });
    }

    [Test]
    public void Write_into_a_partly_unmapped_range_changes_nothing()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x9000);

        Assert.Throws<GuestMemoryException>(() => builder.AddressSpace().Write(UserPage + 0xFFE, "wxyz"u8.ToArray()));
        Assert.That(builder.Bytes.AsSpan(0x9FFE, 2).ToArray(), Is.EqualTo(new byte[2]));
    }

    [Test]
    public void FromRegisters_masks_PCID_and_no_flush_bits_of_CR3()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x5000);
        var sregs = new SpecialRegisters { Cr3 = builder.Root | 0x7FF | (1UL << 63) };

        var space = X86AddressSpace.FromRegisters(builder.Memory, sregs);

        Assert.Multiple(() =>
        {
            Assert.That(space.Root, Is.EqualTo(builder.Root));
            Assert.That(space.Mode, Is.EqualTo(PagingMode.FourLevel));
            Assert.That(space.Translate(UserPage), Is.EqualTo(0x5000UL));
        });
    }

    [Test]
    public void FromRegisters_with_kpti_maps_the_user_root_to_the_kernel_root()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x5000);
        Assert.That(builder.Root & 0x1000, Is.Zero, "the builder's root must be 8 KiB aligned for this test");
        var sregs = new SpecialRegisters { Cr3 = builder.Root | 0x1000 | 0x801 | (1UL << 63) };

        var withKpti = X86AddressSpace.FromRegisters(builder.Memory, sregs, kpti: true);
        var withoutKpti = X86AddressSpace.FromRegisters(builder.Memory, sregs);

        Assert.Multiple(() =>
        {
            Assert.That(withKpti.Root, Is.EqualTo(builder.Root));
            Assert.That(withKpti.Translate(UserPage), Is.EqualTo(0x5000UL));
            Assert.That(withoutKpti.Root, Is.EqualTo(builder.Root | 0x1000));
        });
    }

    [Test]
    public void FromRegisters_uses_five_levels_when_CR4_LA57_is_set()
    {
        const ulong high = 0x0100_0000_0000_0000 - 0x1000;
        var builder = new PageTableBuilder(PagingMode.FiveLevel).Map4K(high, 0x6000);
        var sregs = new SpecialRegisters { Cr3 = builder.Root | 5, Cr4 = PageTableBits.Cr4La57 | 0x20 };

        var space = X86AddressSpace.FromRegisters(builder.Memory, sregs);

        Assert.Multiple(() =>
        {
            Assert.That(space.Mode, Is.EqualTo(PagingMode.FiveLevel));
            Assert.That(space.Translate(high + 1), Is.EqualTo(0x6001UL));
        });
    }

    [TestCase(PagingMode.FourLevel, 0x0000_8000_0000_0000UL)]
    [TestCase(PagingMode.FourLevel, 0xFFFF_7FFF_FFFF_FFFFUL)]
    [TestCase(PagingMode.FourLevel, 0x00FF_1234_5678_9000UL)]
    [TestCase(PagingMode.FiveLevel, 0x0100_0000_0000_0000UL)]
    [TestCase(PagingMode.FiveLevel, 0xFEFF_FFFF_FFFF_F000UL)]
    public void Translate_rejects_noncanonical_addresses_before_reading_memory(PagingMode mode, ulong address)
    {
        var builder = new PageTableBuilder(mode);
        var counting = new CountingMemory(builder.Memory);
        var space = new X86AddressSpace(counting, builder.Root, mode);

        var ex = Assert.Throws<GuestMemoryException>(() => space.Translate(address));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.NonCanonical));
            Assert.That(ex.Address, Is.EqualTo(address));
            Assert.That(counting.Reads, Is.Zero);
            Assert.That(space.TryTranslate(address, out _), Is.False);
        });
    }

    [TestCase(PagingMode.FourLevel, 4)]
    [TestCase(PagingMode.FourLevel, 3)]
    [TestCase(PagingMode.FourLevel, 2)]
    [TestCase(PagingMode.FourLevel, 1)]
    [TestCase(PagingMode.FiveLevel, 5)]
    [TestCase(PagingMode.FiveLevel, 4)]
    [TestCase(PagingMode.FiveLevel, 1)]
    public void Translate_reports_the_level_of_a_non_present_entry(PagingMode mode, int level)
    {
        var builder = new PageTableBuilder(mode).Map4K(UserPage, 0x5000);
        builder.SetEntry(UserPage, level, builder.GetEntry(UserPage, level) & ~PageTableBuilder.Present);
        var space = builder.AddressSpace();

        var ex = Assert.Throws<GuestMemoryException>(() => space.Translate(UserPage + 0x10));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.NotPresent));
            Assert.That(ex.Level, Is.EqualTo(level));
            Assert.That(ex.Address, Is.EqualTo(UserPage + 0x10));
            Assert.That(space.TryTranslate(UserPage, out var pa), Is.False);
            Assert.That(pa, Is.Zero);
        });
    }

    [TestCase(4)]
    [TestCase(3)]
    [TestCase(2)]
    public void Translate_reports_a_table_entry_pointing_outside_guest_memory(int level)
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x5000);
        builder.SetEntry(UserPage, level, 0x0000_0012_3456_7000 | PageTableBuilder.Present);
        var space = builder.AddressSpace();

        var ex = Assert.Throws<GuestMemoryException>(() => space.Translate(UserPage));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.BadEntry));
            Assert.That(ex.Level, Is.EqualTo(level));
            Assert.That(ex.Message, Does.Contain($"level-{level}"));
        });
    }

    [Test]
    public void Translate_reports_a_root_outside_guest_memory_as_OutOfRange()
    {
        var space = new X86AddressSpace(new ArrayGuestMemory(0x1000), 0x10_0000);

        var ex = Assert.Throws<GuestMemoryException>(() => space.Translate(UserPage));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.OutOfRange));
            Assert.That(ex.Level, Is.EqualTo(4));
        });
    }

    [Test]
    public void A_leaf_outside_guest_memory_translates_but_reading_it_fails_at_level_0()
    {
        var builder = new PageTableBuilder().Map4K(UserPage, 0x7_0000_0000);
        var space = builder.AddressSpace();

        Assert.That(space.Translate(UserPage + 4), Is.EqualTo(0x7_0000_0004UL));
        var ex = Assert.Throws<GuestMemoryException>(() => space.Read(UserPage, new byte[4]));
        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.OutOfRange));
            Assert.That(ex.Level, Is.Zero);
            Assert.That(ex.Address, Is.EqualTo(0x7_0000_0000UL));
        });
    }

    [Test]
    public void A_self_referencing_PML4_terminates_with_the_defined_translation()
    {
        // Every PML4 slot points back to the PML4 itself: each level of the walk re-reads the root,
        // so any address in this space resolves, after exactly four reads, to the root frame.
        var builder = new PageTableBuilder();
        for (var i = 0; i < 512; i++)
        {
            builder.WriteEntryAt(builder.Root, i, builder.Root | PageTableBuilder.Present | PageTableBuilder.Writable);
        }

        var counting = new CountingMemory(builder.Memory);
        var space = new X86AddressSpace(counting, builder.Root);

        var translate = Task.Run(() => (space.Translate(0x1234), space.Translate(0xFFFF_FFFF_FFFF_FFF8), space.ReadUInt64(0xFFFF_FFFF_FFFF_FFF8)));
        Assert.That(translate.Wait(TimeSpan.FromSeconds(10)), Is.True, "the walk did not terminate");

        var (low, high, lastEntry) = translate.Result;
        Assert.Multiple(() =>
        {
            Assert.That(low, Is.EqualTo(builder.Root + 0x234));
            Assert.That(high, Is.EqualTo(builder.Root + 0xFF8));
            Assert.That(lastEntry, Is.EqualTo(builder.Root | 3), "reading through the recursive slot shows the PML4 itself");
            Assert.That(counting.Reads, Is.EqualTo((3 * 4) + 1));
        });
    }

    [Test]
    public void A_recursive_slot_exposes_the_page_tables_themselves()
    {
        // The classic recursive mapping: PML4[510] -> PML4. The PTE of a mapped page then appears at
        // a fixed virtual address derived from its indices.
        var builder = new PageTableBuilder().Map4K(UserPage, 0x5000);
        builder.WriteEntryAt(builder.Root, 510, builder.Root | PageTableBuilder.Present);
        const ulong recursiveBase = 0xFFFF_0000_0000_0000 | (510UL << 39);
        var pteAddress = recursiveBase | (((UserPage & 0x0000_FFFF_FFFF_F000) >> 12) << 3);

        Assert.That(builder.AddressSpace().ReadUInt64(pteAddress), Is.EqualTo(builder.GetEntry(UserPage, 1)));
    }

    [Test]
    public void Constructor_rejects_undefined_paging_modes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new X86AddressSpace(new ArrayGuestMemory(16), 0, (PagingMode)3));
    }

    internal sealed class CountingMemory(IGuestMemory inner) : IGuestMemory
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public ulong Size => inner.Size;

        public void Read(ulong physicalAddress, Span<byte> destination)
        {
            Interlocked.Increment(ref _reads);
            inner.Read(physicalAddress, destination);
        }

        public void Write(ulong physicalAddress, ReadOnlySpan<byte> source) => inner.Write(physicalAddress, source);
    }
}
