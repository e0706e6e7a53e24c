using Nitro.Reactive.Events;
using Nitro.Reactive.Testing.Builders;

namespace Nitro.Reactive.Testing.Tests.Builders;

public sealed class NitroEventBuilderTests
{
    [Test]
    public void Defaults_are_an_entry_by_syscall_on_vcpu_0()
    {
        var trap = new NitroEventBuilder().Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(trap.Vcpu, Is.Zero);
            Assert.That(trap.Direction, Is.EqualTo(SyscallDirection.Enter));
            Assert.That(trap.Mechanism, Is.EqualTo(SyscallMechanism.Syscall));
            Assert.That(trap.Registers, Is.EqualTo(default(Registers)));
            Assert.That(trap.SpecialRegisters.Cr3, Is.EqualTo(NitroEventBuilder.DefaultCr3));
            Assert.That(trap.Timestamp, Is.Zero);
            Assert.That(trap.Handle, Is.Null);
        }
    }

    [Test]
    public void Settings_reach_the_event()
    {
        var trap = new NitroEventBuilder()
            .Exit()
            .WithMechanism(SyscallMechanism.Sysenter)
            .OnVcpu(3)
            .AtTime(123)
            .WithRax(7)
            .WithRegisters((ref Registers r) => r.Rdi = 0x55)
            .WithCr3(0x2000)
            .Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(trap.Direction, Is.EqualTo(SyscallDirection.Exit));
            Assert.That(trap.Mechanism, Is.EqualTo(SyscallMechanism.Sysenter));
            Assert.That(trap.Vcpu, Is.EqualTo(3));
            Assert.That(trap.Timestamp, Is.EqualTo(123));
            Assert.That(trap.Registers.Rax, Is.EqualTo(7UL));
            Assert.That(trap.Registers.Rdi, Is.EqualTo(0x55UL));
            Assert.That(trap.PageTableRoot, Is.EqualTo(0x2000UL));
        }
    }

    [Test]
    public void WithRegisters_replaces_the_whole_register_file()
    {
        var registers = new Registers { Rsp = 0x7ffe0000, Rip = 0x401000 };

        var trap = new NitroEventBuilder().WithRax(9).WithRegisters(in registers).Build();

        Assert.That(trap.Registers, Is.EqualTo(registers));
    }

    [Test]
    public void Negative_vcpu_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NitroEventBuilder().OnVcpu(-1));
    }
}
