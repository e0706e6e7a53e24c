using System.Runtime.InteropServices;
using Nitro.Kvm.Memory;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Tests.Memory;

/// <summary>Where guest physical memory is in QEMU's RAM block, read from QEMU 7.2's own <c>info mtree -f</c>.</summary>
public sealed class QemuRamLayoutTests
{
    /// <summary>qemu-system-x86_64 -M pc -m 4096 (QEMU 7.2.22, TCG), as printed.</summary>
    private const string Pc4GiB = """
        FlatView #0
         AS "memory", root: system
         AS "cpu-memory-0", root: system
         Root memory region: system
          0000000000000000-00000000000bffff (prio 0, ram): pc.ram
          00000000000c0000-00000000000dffff (prio 1, rom): pc.rom
          00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000
          0000000000100000-00000000bfffffff (prio 0, ram): pc.ram @0000000000100000
          00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic
          00000000fed00000-00000000fed003ff (prio 0, i/o): hpet
          00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi
          00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios
          0000000100000000-000000013fffffff (prio 0, ram): pc.ram @00000000c0000000

        FlatView #1
         AS "i440FX", root: bus master container
         Root memory region: (none)
          No rendered FlatView
        """;

    /// <summary>qemu-system-x86_64 -M q35 -m 6144: the SMM view comes first, then the system one; KVM appends its name.</summary>
    private const string Q35SixGiB = """
        FlatView #0
         AS "cpu-smm-0", root: memory
         Root memory region: memory
          0000000000000000-00000000000bffff (prio 0, ram): pc.ram KVM
          0000000000100000-000000007fffffff (prio 0, ram): other.ram @0000000000100000 KVM

        FlatView #1
         AS "I/O", root: io
         Root memory region: io

        FlatView #2
         AS "memory", root: system
         AS "cpu-memory-0", root: system
         Root memory region: system
          0000000000000000-00000000000bffff (prio 0, ram): pc.ram KVM
          00000000000c0000-00000000000dffff (prio 1, rom): pc.rom KVM
          0000000000100000-000000007fffffff (prio 0, ram): pc.ram @0000000000100000 KVM
          00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram KVM
          00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios KVM
          0000000100000000-00000001ffffffff (prio 0, ram): pc.ram @0000000080000000 KVM
        """;

    [Test]
    public void A_pc_guest_with_4_GiB_has_3_GiB_from_0_and_1_GiB_from_4_GiB_after_it_in_the_block()
    {
        var layout = QemuRamLayout.Parse(Pc4GiB, 4UL << 30);

        Assert.That(layout.Segments, Is.EqualTo(new[]
        {
            new QemuRamSegment(0, 3UL << 30, 0),
            new QemuRamSegment(4UL << 30, 1UL << 30, 3UL << 30),
        }));
        Assert.That((layout.IsFlat, layout.GuestEnd), Is.EqualTo((false, 5UL << 30)));
        Assert.That(layout.TryTranslate((4UL << 30) + 0x1234, out var offset, out var contiguous), Is.True);
        Assert.That((offset, contiguous), Is.EqualTo(((3UL << 30) + 0x1234, (1UL << 30) - 0x1234)));
        Assert.That(layout.TryTranslate(0xd000_0000, out _, out _), Is.False, "the PCI hole is no RAM");
    }

    [Test]
    public void The_system_view_is_found_after_others_and_the_largest_ram_region_is_the_block()
    {
        var layout = QemuRamLayout.Parse(Q35SixGiB, 6UL << 30);

        Assert.That(layout.Segments, Is.EqualTo(new[]
        {
            new QemuRamSegment(0, 2UL << 30, 0),
            new QemuRamSegment(4UL << 30, 4UL << 30, 2UL << 30),
        }));
    }

    [Test]
    public void Ram_in_one_piece_is_flat()
    {
        var layout = QemuRamLayout.Parse("""
            FlatView #0
             AS "memory", root: system
              0000000000000000-00000000000bffff (prio 0, ram): pc.ram
              0000000000100000-000000000fffffff (prio 0, ram): pc.ram @0000000000100000
            """, 256UL << 20);

        Assert.That(layout.IsFlat, Is.True);
        Assert.That(layout.Segments[0], Is.EqualTo(new QemuRamSegment(0, 256UL << 20, 0)));
    }

    [TestCase("FlatView #0\n AS \"memory\", root: system\n  0000000000000000-000000000009ffff (prio 0, i/o): nothing\n", "lists no RAM region")]
    [TestCase("FlatView #0\n AS \"memory\", root: system\n  0000000000000000-00000000ffffffff (prio 0, ram): pc.ram\n", "outside its")]
    [TestCase("FlatView #0\n AS \"memory\", root: system\n  0000000100000000-000000010fffffff (prio 0, ram): pc.ram @0000000000000000\n", "no pc.ram at guest address 0")]
    public void A_view_that_does_not_describe_the_block_is_refused(string view, string reason)
    {
        var error = Assert.Throws<FormatException>(() => QemuRamLayout.Parse(view, 256UL << 20));
        Assert.That(error!.Message, Does.Contain(reason));
    }

    [Test]
    public unsafe void Process_memory_reads_and_writes_guest_addresses_above_4_GiB_where_the_layout_puts_them()
    {
        // A "RAM block" of 64 KiB in this process: 48 KiB from guest 0, 16 KiB from guest 4 GiB.
        const int Block = 64 << 10;
        var ram = (byte*)NativeMemory.AllocZeroed(Block);
        try
        {
            for (var i = 0; i < Block; i++)
            {
                ram[i] = (byte)(i >> 8);
            }

            var layout = QemuRamLayout.Parse($"""
                FlatView #0
                 AS "memory", root: system
                  0000000000000000-000000000000bfff (prio 0, ram): pc.ram
                  0000000100000000-0000000100003fff (prio 0, ram): pc.ram @000000000000c000
                """, Block);
            using var memory = new ProcessMemoryGuestMemory(Environment.ProcessId, (ulong)ram, layout, writable: true);

            var high = new byte[2];
            memory.Read(0x1_0000_0100, high);
            Assert.That(high, Is.EqualTo(new byte[] { 0xc1, 0xc1 }), "guest 4 GiB + 0x100 is block offset 0xc100");
            memory.Write(0x1_0000_0000, [0xAA]);
            Assert.That(ram[0xc000], Is.EqualTo(0xAA));
            Assert.That(() => memory.Read(0xc000, new byte[1]), Throws.InstanceOf<GuestMemoryException>().With.Message.Contains("hole"));
            Assert.That(memory.Size, Is.EqualTo(0x1_0000_4000UL));
        }
        finally
        {
            NativeMemory.Free(ram);
        }
    }
}
