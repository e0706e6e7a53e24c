using Nitro.Reactive.Events;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Export;

/// <summary>Builds syscalls the way a Linux back end would, straight from registers.</summary>
internal static class SyscallSamples
{
    public const long OriginMonotonic = 5_000_000_000;

    public static readonly TimeOrigin Origin = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), OriginMonotonic);

    public static NitroEvent Event(
        SyscallDirection direction,
        ulong rax,
        long timestamp = OriginMonotonic,
        int vcpu = 0,
        SyscallMechanism mechanism = SyscallMechanism.Syscall,
        VcpuHandle? handle = null)
    {
        var registers = new Registers
        {
            Rax = rax,
            Rdi = 0xffffff9c,
            Rsi = 0x7ffd1234abcd,
            Rdx = 0x80000,
            R10 = 0x1a4,
            R8 = 0,
            R9 = ulong.MaxValue,
            Rbx = 0x1111,
            Rcx = 0x2222,
            Rbp = 0x3333,
        };
        var special = new SpecialRegisters { Cr3 = 0x1234_5000 };
        return new NitroEvent(vcpu, direction, mechanism, registers, special, timestamp, handle);
    }

    public static Process Cat() =>
        new(42, "cat", 1, new Dictionary<string, object?>(StringComparer.Ordinal) { ["tgid"] = 42, ["path"] = "/bin/cat" });

    public static Syscall OpenatEntry(
        IReadOnlyDictionary<string, object?>? decoded = null,
        Process? process = null,
        long timestamp = OriginMonotonic,
        CallingConvention? convention = null,
        string name = "openat")
    {
        var @event = Event(SyscallDirection.Enter, 257, timestamp);
        return new Syscall(
            @event,
            257,
            name,
            "__x64_sys_" + name,
            process,
            new ArgumentMap(@event, convention ?? CallingConvention.LinuxX64, memory: null),
            threadId: 42,
            decoded: decoded);
    }

    public static Syscall OpenatExit(long returnValue, long timestamp)
    {
        var @event = Event(SyscallDirection.Exit, unchecked((ulong)returnValue), timestamp);
        return new Syscall(@event, 257, "openat", "__x64_sys_openat", Cat(), new ArgumentMap(@event, CallingConvention.LinuxX64, null), threadId: 42);
    }
}
