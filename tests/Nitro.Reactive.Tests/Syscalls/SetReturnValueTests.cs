using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Syscalls;

public sealed class SetReturnValueTests
{
    [Test]
    public void SetReturnValue_on_a_live_exit_writes_rax_through_the_handle_and_keeps_the_observed_value()
    {
        var vcpu = new InMemoryVcpu(new Registers { Rax = unchecked((ulong)-2), Rdi = 7 });
        using var pause = VcpuHandle.Pause(0, vcpu);
        var exit = Call(SyscallDirection.Exit, vcpu.Registers, pause.Handle);

        exit.SetReturnValue(42);

        Assert.Multiple(() =>
        {
            Assert.That(vcpu.Registers.Rax, Is.EqualTo(42UL));
            Assert.That(vcpu.Registers.Rdi, Is.EqualTo(7UL), "other registers are untouched");
            Assert.That(exit.ReturnValue, Is.EqualTo(-2), "the call keeps what the kernel returned");
            Assert.That(vcpu.SetSpecialCalls, Is.Zero, "special registers are untouched");
        });
    }

    [Test]
    public void SetReturnValue_on_a_saved_frame_handle_writes_the_frame_not_the_vcpu()
    {
        var vcpu = new InMemoryVcpu(new Registers { Rax = 0xdead });
        var frame = new InMemoryVcpu(new Registers { Rax = unchecked((ulong)-2) });
        using var pause = VcpuHandle.Pause(1, vcpu);
        var exit = Call(SyscallDirection.Exit, frame.Registers, pause.Handle.ForSavedUserFrame(0xffffc900_0000_0f58, frame));

        exit.SetReturnValue(-13);

        Assert.Multiple(() =>
        {
            Assert.That((long)frame.Registers.Rax, Is.EqualTo(-13));
            Assert.That(vcpu.SetCalls, Is.Zero);
            Assert.That(vcpu.SetSpecialCalls + frame.SetSpecialCalls, Is.Zero, "special registers are untouched");
        });
    }

    [Test]
    public void SetReturnValue_on_an_entry_throws_InvalidOperationException()
    {
        var vcpu = new InMemoryVcpu(new Registers { Rax = 39 });
        using var pause = VcpuHandle.Pause(0, vcpu);
        var entry = Call(SyscallDirection.Enter, vcpu.Registers, pause.Handle);

        Assert.Throws<InvalidOperationException>(() => entry.SetReturnValue(1));
        Assert.That(vcpu.SetCalls, Is.Zero);
    }

    [Test]
    public void SetReturnValue_on_a_recorded_exit_throws_InvalidOperationException()
    {
        var exit = Call(SyscallDirection.Exit, new Registers { Rax = 3 }, handle: null);

        Assert.Throws<InvalidOperationException>(() => exit.SetReturnValue(1));
    }

    [Test]
    public void SetReturnValue_after_the_vcpu_resumed_throws_VcpuResumedException_and_writes_nothing()
    {
        var vcpu = new InMemoryVcpu(new Registers { Rax = 3 });
        var frame = new InMemoryVcpu(new Registers { Rax = 3 });
        var pause = VcpuHandle.Pause(2, vcpu);
        var direct = Call(SyscallDirection.Exit, vcpu.Registers, pause.Handle);
        var saved = Call(SyscallDirection.Exit, frame.Registers, pause.Handle.ForSavedUserFrame(0x1000, frame));
        pause.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<VcpuResumedException>(() => direct.SetReturnValue(1))!.Vcpu, Is.EqualTo(2));
            Assert.Throws<VcpuResumedException>(() => saved.SetReturnValue(1));
            Assert.That(vcpu.SetCalls + frame.SetCalls, Is.Zero);
        });
    }

    private static Syscall Call(SyscallDirection direction, Registers registers, VcpuHandle? handle)
    {
        var e = new NitroEvent(handle?.Vcpu ?? 0, direction, SyscallMechanism.Syscall, registers, default, 0, handle);
        return new Syscall(e, 39, "getpid", "__x64_sys_getpid", null, new ArgumentMap(e, CallingConvention.LinuxX64, null), 100);
    }
}
