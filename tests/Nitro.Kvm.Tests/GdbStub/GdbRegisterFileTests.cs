using System.Buffers.Binary;
using Nitro.Kvm.GdbStub;

namespace Nitro.Kvm.Tests.GdbStub;

public sealed class GdbRegisterFileTests
{
    [Test]
    public void Layout_from_the_target_description_follows_includes_order_and_sizes()
    {
        var layout = GdbRegisterLayout.FromFeatures([FakeGdbStub.TargetXml, FakeGdbStub.CoreXml]);
        Assert.That(GdbRegisterLayout.Includes(FakeGdbStub.TargetXml), Is.EqualTo(new[] { "core.xml" }));
        Assert.That(layout.Count, Is.EqualTo(33));
        Assert.That((layout.Name(GdbX86Registers.Rbp), layout.Name(GdbX86Registers.Rsp)), Is.EqualTo(("rbp", "rsp")));
        Assert.That((layout.Offset(GdbX86Registers.Eflags), layout.Size(GdbX86Registers.Eflags)), Is.EqualTo((136, 4)));
        Assert.That((layout.Offset(GdbX86Registers.Cs), layout.Size(GdbX86Registers.Cs)), Is.EqualTo((140, 4)));
        Assert.That(layout.Offset(GdbX86Registers.FsBase), Is.EqualTo(164));
        Assert.That(layout.Offset(GdbX86Registers.Efer), Is.EqualTo(228));
        Assert.That(layout.TotalSize, Is.EqualTo(236));
    }

    [Test]
    public void Fallback_layout_matches_the_facts_table()
    {
        var fromXml = GdbRegisterLayout.FromFeatures([FakeGdbStub.CoreXml]);
        var fallback = GdbRegisterLayout.X86_64Fallback;
        Assert.That(fallback.Count, Is.EqualTo(fromXml.Count));
        for (var i = 0; i < fallback.Count; i++)
        {
            Assert.That((fallback.Name(i), fallback.Offset(i), fallback.Size(i)), Is.EqualTo((fromXml.Name(i), fromXml.Offset(i), fromXml.Size(i))), $"register {i}");
        }
    }

    [Test]
    public void Regnum_attribute_places_a_register_at_its_number()
    {
        var layout = GdbRegisterLayout.FromFeatures(["""<feature><reg name="a" bitsize="64"/><reg name="b" bitsize="32" regnum="3"/><reg name="c" bitsize="16"/></feature>"""]);
        Assert.That(layout.Count, Is.EqualTo(5));
        Assert.That((layout.Name(3), layout.Offset(3), layout.Size(3)), Is.EqualTo(("b", 8, 4)));
        Assert.That((layout.Name(4), layout.Offset(4)), Is.EqualTo(("c", 12)));
    }

    [Test]
    public void Register_without_a_size_is_a_clear_error()
    {
        var error = Assert.Throws<GdbStubException>(() => GdbRegisterLayout.FromFeatures(["""<feature><reg name="odd" bitsize="7"/></feature>"""]));
        Assert.That(error!.Message, Does.Contain("odd"));
    }

    [Test]
    public void Conversion_to_kvm_regs_puts_rsp_before_rbp_and_widens_eflags()
    {
        var file = SampleFile();
        var regs = file.ToRegisters();
        Assert.That((regs.Rax, regs.Rbx, regs.Rcx, regs.Rdx, regs.Rsi, regs.Rdi), Is.EqualTo((100UL, 101UL, 102UL, 103UL, 104UL, 105UL)));
        Assert.That(regs.Rbp, Is.EqualTo(106UL), "gdb register 6 is rbp");
        Assert.That(regs.Rsp, Is.EqualTo(107UL), "gdb register 7 is rsp");
        Assert.That((regs.R8, regs.R15, regs.Rip), Is.EqualTo((108UL, 115UL, 116UL)));
        Assert.That(regs.Rflags, Is.EqualTo(0x246UL));
    }

    [Test]
    public void Conversion_to_kvm_sregs_carries_selectors_bases_and_control_registers()
    {
        var file = SampleFile();
        var sregs = file.ToSpecialRegisters();
        Assert.That((sregs.Cs.Selector, sregs.Ss.Selector, sregs.Ds.Selector, sregs.Es.Selector, sregs.Fs.Selector, sregs.Gs.Selector),
            Is.EqualTo(((ushort)0x10, (ushort)0x18, (ushort)0x20, (ushort)0x28, (ushort)0x30, (ushort)0x38)));
        Assert.That((sregs.Fs.Base, sregs.Gs.Base, file.KernelGsBase), Is.EqualTo((0x7f00UL, 0xffff888000000000UL, 0x1234UL)));
        Assert.That((sregs.Cr0, sregs.Cr2, sregs.Cr3, sregs.Cr4, sregs.Cr8, sregs.Efer), Is.EqualTo((0x80050033UL, 0xdeadUL, 0x1000UL, 0x3606f0UL, 0UL, 0xd01UL)));
        Assert.That(file[GdbX86Registers.Cs], Is.EqualTo(0x10UL));
        Assert.That(file.GetName(GdbX86Registers.KernelGsBase), Is.EqualTo("k_gs_base"));
    }

    [Test]
    public void Registers_beyond_the_packet_are_out_of_range()
    {
        var file = new GdbRegisterFile(new byte[140], GdbRegisterLayout.X86_64Fallback);
        Assert.That(file.Count, Is.EqualTo(18), "rax..r15, rip, eflags fit in 140 bytes");
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = file[GdbX86Registers.Cs]);
        Assert.That(file.ToSpecialRegisters().Cr3, Is.Zero);
    }

    internal static GdbRegisterFile SampleFile()
    {
        var layout = GdbRegisterLayout.FromFeatures([FakeGdbStub.CoreXml]);
        var raw = new byte[layout.TotalSize];
        for (var i = 0; i <= GdbX86Registers.Rip; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(layout.Offset(i)), 100UL + (ulong)i);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(layout.Offset(GdbX86Registers.Eflags)), 0x246);
        for (var i = 0; i < 6; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(layout.Offset(GdbX86Registers.Cs + i)), (uint)(0x10 + (8 * i)));
        }

        // cs ss ds es fs gs in gdb order: cs=0x10 ss=0x18 ds=0x20 es=0x28 fs=0x30 gs=0x38.
        void Put(int number, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(raw.AsSpan(layout.Offset(number)), value);
        Put(GdbX86Registers.FsBase, 0x7f00);
        Put(GdbX86Registers.GsBase, 0xffff888000000000);
        Put(GdbX86Registers.KernelGsBase, 0x1234);
        Put(GdbX86Registers.Cr0, 0x80050033);
        Put(GdbX86Registers.Cr2, 0xdead);
        Put(GdbX86Registers.Cr3, 0x1000);
        Put(GdbX86Registers.Cr4, 0x3606f0);
        Put(GdbX86Registers.Cr8, 0);
        Put(GdbX86Registers.Efer, 0xd01);
        return new GdbRegisterFile(raw, layout);
    }
}
