using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

public sealed class FlagTableTests
{
    [TestCase(0x0UL, "O_RDONLY")]
    [TestCase(0x2UL, "O_RDWR")]
    [TestCase(0x40000000UL, "O_RDONLY|0x40000000")]
    [TestCase(0x3UL, "0x3")]
    [TestCase(0x43UL, "0x3|O_CREAT")]
    [TestCase(0x410002UL, "O_RDWR|O_TMPFILE")]
    [TestCase(0x10000UL, "O_RDONLY|O_DIRECTORY")]
    [TestCase(0x101001UL, "O_WRONLY|O_SYNC")]
    [TestCase(0x1001UL, "O_WRONLY|O_DSYNC")]
    [TestCase(0x80000000_00080000UL, "O_RDONLY|O_CLOEXEC|0x8000000000000000")]
    public void Open_flags_render_access_mode_then_bits_then_a_hex_remainder(ulong value, string expected) =>
        Assert.That(LinuxFlags.Open.Render(value), Is.EqualTo(expected));

    [TestCase(0x0UL, "PROT_NONE")]
    [TestCase(0x7UL, "PROT_READ|PROT_WRITE|PROT_EXEC")]
    [TestCase(0x10UL, "0x10")]
    public void Prot_has_a_name_for_zero(ulong value, string expected) => Assert.That(LinuxFlags.Prot.Render(value), Is.EqualTo(expected));

    [TestCase(0x22UL, "MAP_PRIVATE|MAP_ANONYMOUS")]
    [TestCase(0x3UL, "MAP_SHARED_VALIDATE")]
    [TestCase(0x20UL, "MAP_ANONYMOUS")]
    [TestCase(0x112UL, "MAP_PRIVATE|MAP_FIXED|MAP_GROWSDOWN")]
    public void Map_flags_render_the_mapping_type_first(ulong value, string expected) => Assert.That(LinuxFlags.Map.Render(value), Is.EqualTo(expected));

    [TestCase(0x0UL, "0")]
    [TestCase(0x11UL, "SIGCHLD")]
    [TestCase(0x4111UL, "SIGCHLD|CLONE_VM|CLONE_VFORK")]
    [TestCase(0x50UL, "0x50")]
    [TestCase(0x1_0000_0000UL, "CLONE_CLEAR_SIGHAND")]
    public void Clone_flags_name_the_exit_signal(ulong value, string expected) => Assert.That(LinuxFlags.Clone.Render(value), Is.EqualTo(expected));

    [Test]
    public void Clone3_flags_name_CLONE_NEWTIME_instead_of_a_signal() =>
        Assert.That(LinuxFlags.Clone3.Render(0x80 | 0x20000000), Is.EqualTo("CLONE_NEWPID|CLONE_NEWTIME"));

    [TestCase(0x1UL, "SOCK_STREAM")]
    [TestCase(0x80802UL, "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC")]
    [TestCase(0x7UL, "0x7")]
    public void Socket_types_render_type_and_flags(ulong value, string expected) => Assert.That(LinuxFlags.SocketType.Render(value), Is.EqualTo(expected));

    [Test]
    public void Int_flag_arguments_ignore_the_upper_half_of_the_register()
    {
        var decoded = LinuxSyscallDecoder.Default.DecodeEntry("pipe2", Calls.X64(0, 0xffff_ffff_0008_0000), memory: null);
        Assert.That(decoded["flags"], Is.EqualTo("O_CLOEXEC"));
    }

    [Test]
    public void Rendering_common_flags_allocates_only_the_result()
    {
        LinuxFlags.Open.Render(0x80241);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var text = LinuxFlags.Open.Render(0x80241);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(text, Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"));
        Assert.That(allocated, Is.LessThanOrEqualTo(128), "one string of 34 characters");
    }

    [TestCase(0x1a4UL, "0644")]
    [TestCase(0x9edUL, "04755")]
    [TestCase(0UL, "0000")]
    [TestCase(0x1ffUL, "0777")]
    public void Modes_render_in_octal(ulong mode, string expected) => Assert.That(LinuxSyscallDecoder.Octal(mode), Is.EqualTo(expected));
}
