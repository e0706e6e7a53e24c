using Nitro.Backends.Linux.Decoding;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>Which decoded values a call read from guest memory (what a streaming listener marks as read late).</summary>
public sealed class ValuesFromMemoryTests
{
    private static readonly Dictionary<string, object?> s_openat = new(StringComparer.Ordinal) { ["dirfd"] = "AT_FDCWD", ["pathname"] = "/etc/passwd", ["flags"] = "O_RDONLY", ["mode"] = "0" };

    [Test]
    public void An_entry_names_the_values_arguments_point_to_and_not_those_in_registers()
    {
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("openat", CallingConvention.LinuxX64, SyscallDirection.Enter, s_openat), Is.EqualTo(new[] { "pathname" }));
        var write = new Dictionary<string, object?>(StringComparer.Ordinal) { ["fd"] = 1L, ["buf"] = "hi", ["count"] = 2L };
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("write", CallingConvention.LinuxX64, SyscallDirection.Enter, write), Is.EqualTo(new[] { "buf" }));
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("close", CallingConvention.LinuxX64, SyscallDirection.Enter, new Dictionary<string, object?> { ["fd"] = 3L }), Is.Empty);
    }

    [Test]
    public void An_exit_names_its_outputs_but_not_its_return_value_or_errno()
    {
        var pipe = new Dictionary<string, object?>(StringComparer.Ordinal) { ["return"] = 0L, ["read_fd"] = 3L, ["write_fd"] = 4L };
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("pipe2", CallingConvention.LinuxX64, SyscallDirection.Exit, pipe), Is.EqualTo(new[] { "read_fd", "write_fd" }));
        var failed = new Dictionary<string, object?>(StringComparer.Ordinal) { ["return"] = -2L, ["errno"] = "ENOENT" };
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("openat", CallingConvention.LinuxX64, SyscallDirection.Exit, failed), Is.Empty);
    }

    [Test]
    public void An_unknown_call_has_only_raw_register_values()
    {
        var raw = new Dictionary<string, object?>(StringComparer.Ordinal) { ["arg0"] = "0x1" };
        Assert.That(LinuxSyscallDecoder.ValuesFromMemory("no_such_call", CallingConvention.LinuxX64, SyscallDirection.Enter, raw), Is.Empty);
    }
}
