using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>Builds the raw arguments of a trapped system call.</summary>
internal static class Calls
{
    /// <summary>x86-64 <c>syscall</c>: rdi rsi rdx r10 r8 r9.</summary>
    public static ArgumentMap X64(params ulong[] arguments)
    {
        var registers = default(Registers);
        registers.Rax = 0xdead; // the number: the decoder works by name
        registers.Rdi = At(arguments, 0);
        registers.Rsi = At(arguments, 1);
        registers.Rdx = At(arguments, 2);
        registers.R10 = At(arguments, 3);
        registers.R8 = At(arguments, 4);
        registers.R9 = At(arguments, 5);
        registers.Rcx = 0xffff_ffff_ffff_ffff; // clobbered by syscall: must not be read
        return Map(registers, SyscallMechanism.Syscall, CallingConvention.LinuxX64);
    }

    /// <summary>ia32 <c>int 0x80</c>: ebx ecx edx esi edi ebp; the upper halves hold garbage that must be ignored.</summary>
    public static ArgumentMap Ia32(params uint[] arguments)
    {
        const ulong garbage = 0xAAAA_AAAA_0000_0000;
        var registers = default(Registers);
        registers.Rbx = garbage | At(arguments, 0);
        registers.Rcx = garbage | At(arguments, 1);
        registers.Rdx = garbage | At(arguments, 2);
        registers.Rsi = garbage | At(arguments, 3);
        registers.Rdi = garbage | At(arguments, 4);
        registers.Rbp = garbage | At(arguments, 5);
        return Map(registers, SyscallMechanism.Sysenter, CallingConvention.LinuxIa32);
    }

    private static ArgumentMap Map(Registers registers, SyscallMechanism mechanism, CallingConvention convention)
    {
        var trap = new NitroEvent(0, SyscallDirection.Enter, mechanism, in registers, default, 0);
        return new ArgumentMap(trap, convention, memory: null);
    }

    private static ulong At(ulong[] values, int index) => index < values.Length ? values[index] : 0;

    private static uint At(uint[] values, int index) => index < values.Length ? values[index] : 0;
}
