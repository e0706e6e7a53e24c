namespace Nitro.Backends.Linux.Profile;

/// <summary>
/// The kernel symbols of the 32-bit (ia32) system call entry on x86-64: the assembly entry of each
/// mechanism and the C function it calls with the saved registers.
/// </summary>
internal static class Ia32EntrySymbols
{
    /// <summary><c>sysenter</c> from 32-bit code lands here (starts with <c>swapgs</c>).</summary>
    public const string SysenterEntry = "entry_SYSENTER_compat";

    /// <summary>What <see cref="SysenterEntry"/> calls; it returns whether <c>sysret</c> may be used.</summary>
    public const string SysenterDispatcher = "do_SYSENTER_32";

    /// <summary>32-bit <c>syscall</c> from compatibility mode lands here (starts with <c>swapgs</c>).</summary>
    public const string SyscallEntry = "entry_SYSCALL_compat";

    /// <summary>What <see cref="SyscallEntry"/> calls.</summary>
    public const string SyscallDispatcher = "do_fast_syscall_32";

    /// <summary>The <c>int 0x80</c> gate of older kernels: its own entry code.</summary>
    public const string Int80Entry = "entry_INT80_compat";

    /// <summary>What <see cref="Int80Entry"/> calls.</summary>
    public const string Int80Dispatcher = "do_int80_syscall_32";

    /// <summary>The <c>int 0x80</c> gate since it became an ordinary IDT entry (6.7, and the stable kernels it was backported to).</summary>
    public const string Int80IdtEntry = "asm_int80_emulation";

    /// <summary>What <see cref="Int80IdtEntry"/> calls.</summary>
    public const string Int80Emulation = "int80_emulation";
}
