namespace Nitro.Backends.Linux.Profile;

/// <summary>One slot of the guest kernel's system call table.</summary>
/// <param name="Number">The system call number (the index into the table).</param>
/// <param name="HandlerName">The handler's kallsyms name, e.g. <c>__x64_sys_openat</c>.</param>
/// <param name="Name">The short name, e.g. <c>openat</c> (<c>ni_syscall</c> for an unimplemented slot).</param>
/// <param name="Handler">The handler's virtual address in the running kernel.</param>
public sealed record SyscallTableEntry(int Number, string HandlerName, string Name, ulong Handler)
{
    /// <summary>Gets a value indicating whether the slot has a real handler rather than <c>sys_ni_syscall</c>.</summary>
    public bool IsImplemented => !HandlerName.EndsWith("sys_ni_syscall", StringComparison.Ordinal);
}
