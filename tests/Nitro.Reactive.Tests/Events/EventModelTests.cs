using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nitro.Reactive.Events;

namespace Nitro.Reactive.Tests.Events;

public sealed class EventModelTests
{
    [Test]
    public void Registers_have_the_kvm_regs_layout()
    {
        Assert.That(Unsafe.SizeOf<Registers>(), Is.EqualTo(144));
        Assert.That(Marshal.OffsetOf<Registers>(nameof(Registers.R10)), Is.EqualTo((nint)80));
        Assert.That(Marshal.OffsetOf<Registers>(nameof(Registers.Rip)), Is.EqualTo((nint)128));
        Assert.That(Marshal.OffsetOf<Registers>(nameof(Registers.Rflags)), Is.EqualTo((nint)136));
    }

    [Test]
    public void SpecialRegisters_have_the_kvm_sregs_layout()
    {
        Assert.That(Unsafe.SizeOf<SpecialRegisters>(), Is.EqualTo(312));
        Assert.That(Unsafe.SizeOf<Segment>(), Is.EqualTo(24));
        Assert.That(Unsafe.SizeOf<DescriptorTable>(), Is.EqualTo(16));
        Assert.That(Marshal.OffsetOf<SpecialRegisters>(nameof(SpecialRegisters.Gdt)), Is.EqualTo((nint)192));
        Assert.That(Marshal.OffsetOf<SpecialRegisters>(nameof(SpecialRegisters.Cr0)), Is.EqualTo((nint)224));
        Assert.That(Marshal.OffsetOf<SpecialRegisters>(nameof(SpecialRegisters.Cr3)), Is.EqualTo((nint)240));
        Assert.That(Marshal.OffsetOf<SpecialRegisters>(nameof(SpecialRegisters.ApicBase)), Is.EqualTo((nint)272));
        Assert.That(Marshal.OffsetOf<SpecialRegisters>(nameof(SpecialRegisters.InterruptBitmap)), Is.EqualTo((nint)280));
    }

    [Test]
    public void Event_keeps_a_snapshot_of_the_registers()
    {
        var regs = new Registers { Rax = 257, Rdi = 0xffffff9c };
        var sregs = new SpecialRegisters { Cr3 = 0x1234_5000 | 0x3 | (1UL << 63) };
        var e = new NitroEvent(2, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, sregs, 42);
        regs.Rax = 0;

        Assert.That(e.Registers.Rax, Is.EqualTo(257));
        Assert.That(e.Vcpu, Is.EqualTo(2));
        Assert.That(e.PageTableRoot, Is.EqualTo(0x1234_5000UL), "PCID and no-flush bits are masked");
        Assert.That(e.Handle, Is.Null);
    }

    [Test]
    public void Handle_reads_and_writes_while_paused_and_refuses_after_resume()
    {
        var access = new InMemoryVcpu();
        var pause = VcpuHandle.Pause(3, access);
        var handle = pause.Handle;
        var regs = handle.GetRegisters();
        regs.Rax = 7;
        handle.SetRegisters(regs);
        Assert.That(access.Registers.Rax, Is.EqualTo(7));
        Assert.That(handle.IsPaused, Is.True);

        pause.Dispose();
        pause.Dispose();

        Assert.That(handle.IsPaused, Is.False);
        var ex = Assert.Throws<VcpuResumedException>(() => handle.GetRegisters());
        Assert.That(ex!.Vcpu, Is.EqualTo(3));
        Assert.That(ex.Message, Does.Contain("vCPU 3"));
        Assert.Throws<VcpuResumedException>(() => handle.SetSpecialRegisters(default));
    }

    [Test]
    public void Saved_frame_handle_reads_and_writes_its_frame_and_ends_with_the_pause()
    {
        var vcpu = new InMemoryVcpu { Registers = new Registers { Rax = 1 } };
        var frame = new InMemoryVcpu { Registers = new Registers { Rax = 2 } };
        var pause = VcpuHandle.Pause(1, vcpu);
        var handle = pause.Handle.ForSavedUserFrame(0xffffc900_0001_3f58, frame);

        var regs = handle.GetRegisters();
        regs.Rax = 42;
        handle.SetRegisters(regs);

        Assert.Multiple(() =>
        {
            Assert.That(pause.Handle.Target, Is.EqualTo(VcpuRegisterTarget.Vcpu));
            Assert.That(pause.Handle.FrameAddress, Is.Zero);
            Assert.That(handle.Target, Is.EqualTo(VcpuRegisterTarget.SavedUserFrame));
            Assert.That(handle.FrameAddress, Is.EqualTo(0xffffc900_0001_3f58UL));
            Assert.That(handle.Vcpu, Is.EqualTo(1));
            Assert.That(frame.Registers.Rax, Is.EqualTo(42UL), "the write went to the frame");
            Assert.That(vcpu.Registers.Rax, Is.EqualTo(1UL), "not to the vCPU");
            Assert.That(handle.IsPaused, Is.True);
        });

        pause.Dispose();

        Assert.That(handle.IsPaused, Is.False);
        Assert.Throws<VcpuResumedException>(() => handle.GetRegisters());
        Assert.Throws<VcpuResumedException>(() => handle.SetRegisters(default));
        Assert.That(frame.Registers.Rax, Is.EqualTo(42UL));
    }

    [Test]
    public void Register_equality_is_bytewise()
    {
        var a = new Registers { Rax = 1, R15 = 2 };
        var b = a;
        Assert.That(a == b, Is.True);
        b.R15 = 3;
        Assert.That(a != b, Is.True);
    }
    [Test]
    public void A_read_only_saved_frame_refuses_every_change_with_its_reason_and_reads_as_usual()
    {
        var builder = new Nitro.Reactive.Tests.Memory.PageTableBuilder().Map4K(0xffffc900_0001_3000, 0x5000);
        var space = builder.AddressSpace();
        int[] offsets = [0, -1, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 16, -1];
        var layout = new Nitro.Reactive.Listening.SavedFrameLayout(24, offsets, entryRaxOffset: 0);
        builder.WriteBytes(0x5000, [7, 0, 0, 0, 0, 0, 0, 0, 9]);
        var frame = new SavedUserFrame(space, 0xffffc900_0001_3000, layout, SyscallDirection.Exit, default, readOnlyReason: "the kernel took the arguments already");

        frame.GetRegisters(out var registers);
        var same = registers;
        frame.SetRegisters(same);
        registers.Rcx = 1;

        Assert.That((same.Rax, same.Rcx), Is.EqualTo((7UL, 9UL)));
        Assert.That(() => frame.SetRegisters(registers), Throws.InstanceOf<NotSupportedException>().With.Message.EqualTo("the kernel took the arguments already"));
        Assert.That(Nitro.Reactive.Memory.VirtualMemoryExtensions.ReadUInt64(space, 0xffffc900_0001_3008), Is.EqualTo(9UL), "nothing written");
    }
}
