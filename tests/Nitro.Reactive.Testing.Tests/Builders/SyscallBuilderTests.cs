using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;

namespace Nitro.Reactive.Testing.Tests.Builders;

public sealed class SyscallBuilderTests
{
    [Test]
    public void Entry_puts_the_number_in_rax_and_arguments_in_linux_registers()
    {
        var call = SyscallBuilder.Enter("openat").WithArgs(0xffffff9c, 0x1000, 2, 3, 4, 5).Build();
        ref readonly var registers = ref call.Event.Registers;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(registers.Rax, Is.EqualTo(257UL));
            Assert.That(
                new[] { registers.Rdi, registers.Rsi, registers.Rdx, registers.R10, registers.R8, registers.R9 },
                Is.EqualTo(new ulong[] { 0xffffff9c, 0x1000, 2, 3, 4, 5 }));
            Assert.That(call.Event.Direction, Is.EqualTo(SyscallDirection.Enter));
            Assert.That(call.Event.Mechanism, Is.EqualTo(SyscallMechanism.Syscall));
            Assert.That(call.ReturnValue, Is.Null);
        }
    }

    [Test]
    public void Arguments_read_back_through_the_linux_calling_convention()
    {
        var call = SyscallBuilder.Enter("mmap").WithArgs(1, 2, 3, 4, 5, 6).Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(call.Arguments.Convention, Is.SameAs(CallingConvention.LinuxX64));
            Assert.That(Enumerable.Range(0, 6).Select(i => call.Arguments[i]), Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5, 6 }));
            Assert.That(call.Arguments.CanReadMemory, Is.False);
        }
    }

    [Test]
    public void Exit_puts_the_return_value_in_rax()
    {
        var call = SyscallBuilder.Exit("openat", returnValue: -13).WithThreadId(77).Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(call.Direction, Is.EqualTo(SyscallDirection.Exit));
            Assert.That(call.ReturnValue, Is.EqualTo(-13));
            Assert.That(call.Event.Registers.Rax, Is.EqualTo(unchecked((ulong)-13L)));
            Assert.That(call.ThreadId, Is.EqualTo(77));
            Assert.That(call.Number, Is.EqualTo(257));
        }
    }

    [Test]
    public void Defaults_are_init_pid_1_vcpu_0_time_0()
    {
        var call = SyscallBuilder.Enter("read").Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(call.Process, Is.EqualTo(new Process(1, "init")));
            Assert.That(call.Vcpu, Is.Zero);
            Assert.That(call.Event.Timestamp, Is.Zero);
            Assert.That(call.Event.Handle, Is.Null);
            Assert.That(call.Number, Is.Zero);
            Assert.That(call.FullName, Is.EqualTo("__x64_sys_read"));
            Assert.That(call.ThreadId, Is.Null);
            Assert.That(call.Decoded, Is.Empty);
        }
    }

    [TestCase("write", 1)]
    [TestCase("execve", 59)]
    [TestCase("connect", 42)]
    [TestCase("ptrace", 101)]
    [TestCase("clone3", 435)]
    [TestCase("no_such_call", 0)]
    public void Number_comes_from_the_builtin_table(string name, long number)
    {
        Assert.That(SyscallBuilder.Enter(name).Build().Number, Is.EqualTo(number));
    }

    [Test]
    public void Fluent_settings_all_reach_the_syscall()
    {
        var call = SyscallBuilder.Enter("openat")
            .ByProcess("cat", pid: 42, parentPid: 7)
            .WithDecoded("filename", "/etc/shadow")
            .OnVcpu(1)
            .AtTime(5_000)
            .WithCr3(0xabc000)
            .WithNumber(999)
            .WithFullName("do_sys_openat2")
            .Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(call.Process, Is.EqualTo(new Process(42, "cat", 7)));
            Assert.That(call.Decoded["filename"], Is.EqualTo("/etc/shadow"));
            Assert.That(call.Vcpu, Is.EqualTo(1));
            Assert.That(call.Event.Timestamp, Is.EqualTo(5_000));
            Assert.That(call.Event.PageTableRoot, Is.EqualTo(0xabc000UL));
            Assert.That(call.Number, Is.EqualTo(999));
            Assert.That(call.Event.Registers.Rax, Is.EqualTo(999UL));
            Assert.That(call.FullName, Is.EqualTo("do_sys_openat2"));
            Assert.That(call.Name, Is.EqualTo("openat"));
        }
    }

    [Test]
    public void Built_calls_do_not_share_state_with_later_changes()
    {
        var builder = SyscallBuilder.Enter("write").WithDecoded("fd", 1);
        var first = builder.Build();

        var second = builder.WithDecoded("fd", 2).WithArgs(9).Build();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Decoded["fd"], Is.EqualTo(1));
            Assert.That(first.Arguments[0], Is.Zero);
            Assert.That(second.Decoded["fd"], Is.EqualTo(2));
            Assert.That(second.Arguments[0], Is.EqualTo(9UL));
        }
    }

    [Test]
    public void More_than_six_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => SyscallBuilder.Enter("read").WithArgs(1, 2, 3, 4, 5, 6, 7));
    }

    [Test]
    public void Unknown_process_is_allowed()
    {
        Assert.That(SyscallBuilder.Enter("read").ByProcess(null).Build().Process, Is.Null);
    }

    [Test]
    public void Built_arguments_cannot_be_changed_because_there_is_no_live_vcpu()
    {
        var call = SyscallBuilder.Enter("read").Build();

        Assert.Throws<InvalidOperationException>(() => call.Arguments.Set(0, 1));
    }
}
