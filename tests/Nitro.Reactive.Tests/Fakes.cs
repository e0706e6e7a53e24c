using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Testing.Builders;

namespace Nitro.Reactive.Tests;

/// <summary>Small factories for events and calls used across these tests.</summary>
internal static class Fakes
{
    public static NitroEvent Event(
        SyscallDirection direction = SyscallDirection.Enter,
        ulong rax = 0,
        int vcpu = 0,
        long timestamp = 0,
        ulong rdi = 0,
        ulong rsi = 0,
        VcpuHandle? handle = null)
    {
        var regs = new Registers { Rax = rax, Rdi = rdi, Rsi = rsi };
        var sregs = new SpecialRegisters { Cr3 = 0x1000 };
        return new NitroEvent(vcpu, direction, SyscallMechanism.Syscall, regs, sregs, timestamp, handle);
    }

    public static Syscall Call(
        string name,
        SyscallDirection direction = SyscallDirection.Enter,
        string process = "cat",
        int pid = 42,
        long? thread = 42,
        int vcpu = 0,
        long timestamp = 0,
        ulong rax = 0,
        ulong arg0 = 0,
        IReadOnlyDictionary<string, object?>? decoded = null)
    {
        var builder = (direction == SyscallDirection.Enter ? SyscallBuilder.Enter(name) : SyscallBuilder.Exit(name, (long)rax))
            .ByProcess(process, pid)
            .OnVcpu(vcpu)
            .AtTime(timestamp)
            .WithArgs(arg0);
        if (thread is { } id)
        {
            builder.WithThreadId(id);
        }

        foreach (var (key, value) in decoded ?? new Dictionary<string, object?>())
        {
            builder.WithDecoded(key, value);
        }

        return builder.Build();
    }
}
