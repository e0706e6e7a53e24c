namespace Nitro.Reactive.Events;

/// <summary>Whether an event is the entry into a system call or the return from it (Nitro: 0 enter, 1 exit).</summary>
public enum SyscallDirection
{
    /// <summary>The guest is entering the kernel (the call's arguments are live).</summary>
    Enter = 0,

    /// <summary>The kernel is returning to the guest (RAX holds the return value).</summary>
    Exit = 1,
}

/// <summary>The instruction the guest used to enter the kernel (Nitro: 0 sysenter, 1 syscall).</summary>
public enum SyscallMechanism
{
    /// <summary>
    /// A 32-bit (ia32) entry: <c>sysenter</c>, <c>int 0x80</c>, or 32-bit <c>syscall</c> from compatibility
    /// mode. Such calls use the ia32 numbers and calling convention.
    /// </summary>
    Sysenter = 0,

    /// <summary>64-bit <c>syscall</c>.</summary>
    Syscall = 1,
}
