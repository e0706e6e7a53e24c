using System.Text;
using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

public sealed class LinuxSyscallDecoderEntryTests
{
    private const ulong AtFdCwd = unchecked((ulong)-100L);
    private const ulong Strings = 0x5555_5555_8000;
    private const ulong Strings2 = 0x5555_5555_9000;
    private const ulong Struct = 0x7ffd_1234_0000;
    private const ulong Stack = 0x7ffd_1234_1000;

    private readonly LinuxSyscallDecoder _decoder = LinuxSyscallDecoder.Default;
    private FakeVirtualMemory _memory = null!;

    [SetUp]
    public void SetUp() => _memory = new FakeVirtualMemory();

    [Test]
    public void Open_decodes_path_flags_and_mode()
    {
        _memory.PutString(Strings, "/etc/passwd");
        var decoded = _decoder.DecodeEntry("open", Calls.X64(Strings, 0x80000, 0), _memory);
        Decoded.AssertEqual(decoded, ("pathname", "/etc/passwd"), ("flags", "O_RDONLY|O_CLOEXEC"), ("mode", "0000"));
    }

    [Test]
    public void Openat_names_AT_FDCWD_and_creation_flags()
    {
        _memory.PutString(Strings, "/tmp/out.txt");
        var decoded = _decoder.DecodeEntry("openat", Calls.X64(AtFdCwd, Strings, 0x241, 0x1a4), _memory);
        Decoded.AssertEqual(
            decoded,
            ("dirfd", "AT_FDCWD"),
            ("pathname", "/tmp/out.txt"),
            ("flags", "O_WRONLY|O_CREAT|O_TRUNC"),
            ("mode", "0644"));
    }

    [Test]
    public void Openat_keeps_a_real_directory_fd_as_a_number()
    {
        _memory.PutString(Strings, "lib");
        var decoded = _decoder.DecodeEntry("openat", Calls.X64(7, Strings, 0x90800, 0), _memory);
        Assert.That(decoded["dirfd"], Is.EqualTo(7L));
        Assert.That(decoded["flags"], Is.EqualTo("O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"));
    }

    [Test]
    public void Openat2_reads_struct_open_how()
    {
        _memory.PutString(Strings, "etc/hosts");
        _memory.PutUInt64(Struct, 0x200000); // O_PATH
        _memory.PutUInt64(Struct + 8, 0);
        _memory.PutUInt64(Struct + 16, 0xC); // RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH
        var decoded = _decoder.DecodeEntry("openat2", Calls.X64(3, Strings, Struct, 24), _memory);
        Decoded.AssertEqual(
            decoded,
            ("dirfd", 3L),
            ("pathname", "etc/hosts"),
            ("flags", "O_RDONLY|O_PATH"),
            ("mode", "0000"),
            ("resolve", "RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH"),
            ("size", 24L));
    }

    [Test]
    public void Creat_decodes_path_and_mode()
    {
        _memory.PutString(Strings, "new.txt");
        Decoded.AssertEqual(_decoder.DecodeEntry("creat", Calls.X64(Strings, 0x180), _memory), ("pathname", "new.txt"), ("mode", "0600"));
    }

    [Test]
    public void Read_shows_the_buffer_as_a_pointer_only()
    {
        var decoded = _decoder.DecodeEntry("read", Calls.X64(3, Stack, 4096), _memory);
        Decoded.AssertEqual(decoded, ("fd", 3L), ("buf", "0x7ffd12341000"), ("count", 4096L));
    }

    [Test]
    public void Write_previews_the_buffer()
    {
        _memory.Put(Stack, "hello\n"u8);
        var decoded = _decoder.DecodeEntry("write", Calls.X64(1, Stack, 6), _memory);
        Decoded.AssertEqual(decoded, ("fd", 1L), ("buf", "hello\n"u8.ToArray()), ("count", 6L));
    }

    [Test]
    public void Write_previews_only_the_first_64_bytes()
    {
        var data = new byte[1000];
        Random.Shared.NextBytes(data);
        _memory.Put(Stack, data);
        var decoded = _decoder.DecodeEntry("write", Calls.X64(1, Stack, 1000), _memory);
        Assert.That(decoded["buf"], Is.EqualTo(data[..64]));
        Assert.That(decoded["count"], Is.EqualTo(1000L));
    }

    [Test]
    public void Pread64_and_pwrite64_carry_the_offset()
    {
        _memory.Put(Stack, [1, 2, 3]);
        Decoded.AssertEqual(
            _decoder.DecodeEntry("pread64", Calls.X64(4, Stack, 512, 8192), _memory),
            ("fd", 4L), ("buf", "0x7ffd12341000"), ("count", 512L), ("offset", 8192L));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("pwrite64", Calls.X64(4, Stack, 3, 100), _memory),
            ("fd", 4L), ("buf", new byte[] { 1, 2, 3 }), ("count", 3L), ("offset", 100L));
    }

    [Test]
    public void Close_ignores_garbage_in_the_upper_half_of_an_int_argument()
    {
        Decoded.AssertEqual(_decoder.DecodeEntry("close", Calls.X64(0xdead_beef_0000_0003), _memory), ("fd", 3L));
    }

    [Test]
    public void Execve_decodes_filename_argv_and_counts_envp()
    {
        _memory.PutString(Strings, "/bin/sh");
        var argv = PutStrings(Strings2, Struct, "sh", "-c", "echo hi");
        var envp = PutStrings(Strings2 + 0x100, Struct + 0x100, "PATH=/usr/bin", "HOME=/root", "TERM=linux");
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(Strings, argv, envp), _memory);
        Decoded.AssertEqual(decoded, ("filename", "/bin/sh"), ("argv", new[] { "sh", "-c", "echo hi" }), ("envc", 3L));
    }

    [Test]
    public void Execveat_decodes_dirfd_and_flags()
    {
        _memory.PutString(Strings, string.Empty);
        var argv = PutStrings(Strings2, Struct, "prog");
        var envp = PutStrings(Strings2 + 0x100, Struct + 0x100);
        var decoded = _decoder.DecodeEntry("execveat", Calls.X64(5, Strings, argv, envp, 0x1000), _memory);
        Decoded.AssertEqual(
            decoded,
            ("dirfd", 5L),
            ("pathname", string.Empty),
            ("argv", new[] { "prog" }),
            ("envc", 0L),
            ("flags", "AT_EMPTY_PATH"));
    }

    [Test]
    public void Clone_names_the_exit_signal_in_the_low_byte()
    {
        var decoded = _decoder.DecodeEntry("clone", Calls.X64(0x0120_0011, 0, 0, Stack, 0), _memory);
        Decoded.AssertEqual(
            decoded,
            ("flags", "SIGCHLD|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"),
            ("stack", "0x0"),
            ("parent_tid", "0x0"),
            ("child_tid", "0x7ffd12341000"),
            ("tls", "0x0"));
    }

    [Test]
    public void Clone_of_a_thread_shows_no_signal()
    {
        var decoded = _decoder.DecodeEntry("clone", Calls.X64(0x003d_0f00, Stack, Struct, Struct + 8, 0x7f00_0000_0640), _memory);
        Assert.That(
            decoded["flags"],
            Is.EqualTo("CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"));
        Assert.That(decoded["tls"], Is.EqualTo("0x7f0000000640"));
    }

    [Test]
    public void Clone3_reads_struct_clone_args_up_to_its_size()
    {
        var args = new byte[88];
        BitConverter.GetBytes(0x4100UL).CopyTo(args, 0); // CLONE_VM | CLONE_VFORK
        BitConverter.GetBytes(17UL).CopyTo(args, 32); // SIGCHLD
        BitConverter.GetBytes(0x7f12_0000_0000UL).CopyTo(args, 40);
        BitConverter.GetBytes(0x2_0000UL).CopyTo(args, 48);
        _memory.Put(Struct, args);
        var decoded = _decoder.DecodeEntry("clone3", Calls.X64(Struct, 88), _memory);
        Decoded.AssertEqual(
            decoded,
            ("flags", "CLONE_VM|CLONE_VFORK"),
            ("pidfd", "0x0"),
            ("child_tid", "0x0"),
            ("parent_tid", "0x0"),
            ("exit_signal", "SIGCHLD"),
            ("stack", "0x7f1200000000"),
            ("stack_size", 0x2_0000L),
            ("tls", "0x0"),
            ("set_tid_size", 0L),
            ("cgroup", 0L),
            ("size", 88L));
    }

    [Test]
    public void Clone3_with_the_first_version_size_has_no_cgroup()
    {
        _memory.Put(Struct, new byte[64]);
        var decoded = _decoder.DecodeEntry("clone3", Calls.X64(Struct, 64), _memory);
        Assert.That(decoded.ContainsKey("stack_size"), Is.True);
        Assert.That(decoded.ContainsKey("set_tid_size"), Is.False);
        Assert.That(decoded.ContainsKey("cgroup"), Is.False);
    }

    [TestCase("fork")]
    [TestCase("vfork")]
    public void Fork_and_vfork_have_no_arguments(string name) =>
        Assert.That(_decoder.DecodeEntry(name, Calls.X64(1, 2, 3), _memory), Is.Empty);

    [TestCase("exit")]
    [TestCase("exit_group")]
    public void Exit_decodes_a_negative_status(string name) =>
        Decoded.AssertEqual(_decoder.DecodeEntry(name, Calls.X64(0xffff_ffff), _memory), ("status", -1L));

    [Test]
    public void Unlink_and_unlinkat_decode_paths_and_AT_REMOVEDIR()
    {
        _memory.PutString(Strings, "/tmp/gone");
        Decoded.AssertEqual(_decoder.DecodeEntry("unlink", Calls.X64(Strings), _memory), ("pathname", "/tmp/gone"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("unlinkat", Calls.X64(AtFdCwd, Strings, 0x200), _memory),
            ("dirfd", "AT_FDCWD"), ("pathname", "/tmp/gone"), ("flags", "AT_REMOVEDIR"));
    }

    [Test]
    public void Rename_family_decodes_both_paths()
    {
        _memory.PutString(Strings, "a.txt");
        _memory.PutString(Strings2, "b.txt");
        Decoded.AssertEqual(_decoder.DecodeEntry("rename", Calls.X64(Strings, Strings2), _memory), ("oldpath", "a.txt"), ("newpath", "b.txt"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("renameat", Calls.X64(3, Strings, AtFdCwd, Strings2), _memory),
            ("olddirfd", 3L), ("oldpath", "a.txt"), ("newdirfd", "AT_FDCWD"), ("newpath", "b.txt"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("renameat2", Calls.X64(AtFdCwd, Strings, AtFdCwd, Strings2, 1), _memory),
            ("olddirfd", "AT_FDCWD"), ("oldpath", "a.txt"), ("newdirfd", "AT_FDCWD"), ("newpath", "b.txt"), ("flags", "RENAME_NOREPLACE"));
    }

    [Test]
    public void Connect_decodes_an_ipv4_address()
    {
        _memory.Put(Struct, [2, 0, 0, 80, 10, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        Decoded.AssertEqual(
            _decoder.DecodeEntry("connect", Calls.X64(3, Struct, 16), _memory),
            ("sockfd", 3L), ("addr", "10.0.2.2:80"), ("addrlen", 16L));
    }

    [Test]
    public void Connect_decodes_an_ipv6_address()
    {
        var address = new byte[28];
        address[0] = 10;
        address[2] = 0x01;
        address[3] = 0xBB; // 443
        address[23] = 1; // ::1
        _memory.Put(Struct, address);
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Struct, 28), _memory)["addr"], Is.EqualTo("[::1]:443"));
    }

    [Test]
    public void Connect_decodes_unix_paths_and_abstract_names()
    {
        _memory.Put(Struct, [1, 0, .. "/run/dbus/system_bus_socket\0"u8]);
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Struct, 110), _memory)["addr"], Is.EqualTo("/run/dbus/system_bus_socket"));
        _memory.Put(Struct + 0x200, [1, 0, 0, .. "name"u8]);
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Struct + 0x200, 7), _memory)["addr"], Is.EqualTo("@name"));
    }

    [Test]
    public void Connect_shows_other_families_by_number()
    {
        _memory.Put(Struct, [17, 0, 0, 0, 1, 0, 0, 0]);
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Struct, 8), _memory)["addr"], Is.EqualTo("family=17"));
    }

    [Test]
    public void Bind_decodes_the_local_address()
    {
        _memory.Put(Struct, [2, 0, 0x1F, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Decoded.AssertEqual(
            _decoder.DecodeEntry("bind", Calls.X64(4, Struct, 16), _memory),
            ("sockfd", 4L), ("addr", "0.0.0.0:8080"), ("addrlen", 16L));
    }

    [Test]
    public void Accept_decodes_only_the_socket_at_entry()
    {
        Decoded.AssertEqual(_decoder.DecodeEntry("accept", Calls.X64(3, Struct, Struct + 0x80), _memory), ("sockfd", 3L));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("accept4", Calls.X64(3, Struct, Struct + 0x80, 0x80800), _memory),
            ("sockfd", 3L), ("flags", "SOCK_NONBLOCK|SOCK_CLOEXEC"));
    }

    [Test]
    public void Socket_names_domain_type_and_protocol()
    {
        Decoded.AssertEqual(
            _decoder.DecodeEntry("socket", Calls.X64(2, 0x80001, 6), _memory),
            ("domain", "AF_INET"), ("type", "SOCK_STREAM|SOCK_CLOEXEC"), ("protocol", "IPPROTO_TCP"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("socket", Calls.X64(16, 3, 9), _memory),
            ("domain", "AF_NETLINK"), ("type", "SOCK_RAW"), ("protocol", "9"));
    }

    [Test]
    public void Mmap_names_protection_and_mapping_flags()
    {
        var decoded = _decoder.DecodeEntry("mmap", Calls.X64(0, 8192, 3, 0x22, 0xffff_ffff, 0), _memory);
        Decoded.AssertEqual(
            decoded,
            ("addr", "0x0"),
            ("length", 8192L),
            ("prot", "PROT_READ|PROT_WRITE"),
            ("flags", "MAP_PRIVATE|MAP_ANONYMOUS"),
            ("fd", -1L),
            ("offset", 0L));
    }

    [Test]
    public void Mprotect_and_munmap_decode_ranges()
    {
        Decoded.AssertEqual(
            _decoder.DecodeEntry("mprotect", Calls.X64(0x7f00_0000_0000, 4096, 0), _memory),
            ("addr", "0x7f0000000000"), ("len", 4096L), ("prot", "PROT_NONE"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("munmap", Calls.X64(0x7f00_0000_0000, 4096), _memory),
            ("addr", "0x7f0000000000"), ("length", 4096L));
    }

    [Test]
    public void Kill_family_names_signals()
    {
        Decoded.AssertEqual(_decoder.DecodeEntry("kill", Calls.X64(1234, 9), _memory), ("pid", 1234L), ("sig", "SIGKILL"));
        Decoded.AssertEqual(_decoder.DecodeEntry("kill", Calls.X64(0xffff_ffff, 0), _memory), ("pid", -1L), ("sig", "0"));
        Decoded.AssertEqual(_decoder.DecodeEntry("tgkill", Calls.X64(100, 101, 6), _memory), ("tgid", 100L), ("tid", 101L), ("sig", "SIGABRT"));
        Decoded.AssertEqual(_decoder.DecodeEntry("tkill", Calls.X64(101, 33), _memory), ("tid", 101L), ("sig", "SIGRTMIN+1"));
    }

    [Test]
    public void Nice_to_have_calls_are_decoded()
    {
        _memory.PutString(Strings, "/home");
        Decoded.AssertEqual(_decoder.DecodeEntry("chdir", Calls.X64(Strings), _memory), ("path", "/home"));
        Decoded.AssertEqual(_decoder.DecodeEntry("mkdir", Calls.X64(Strings, 0x1ed), _memory), ("pathname", "/home"), ("mode", "0755"));
        Decoded.AssertEqual(_decoder.DecodeEntry("rmdir", Calls.X64(Strings), _memory), ("pathname", "/home"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("newfstatat", Calls.X64(AtFdCwd, Strings, Stack, 0x100), _memory),
            ("dirfd", "AT_FDCWD"), ("pathname", "/home"), ("statbuf", "0x7ffd12341000"), ("flags", "AT_SYMLINK_NOFOLLOW"));
        Decoded.AssertEqual(_decoder.DecodeEntry("getdents64", Calls.X64(3, Stack, 32768), _memory), ("fd", 3L), ("dirp", "0x7ffd12341000"), ("count", 32768L));
        Decoded.AssertEqual(_decoder.DecodeEntry("dup3", Calls.X64(3, 10, 0x80000), _memory), ("oldfd", 3L), ("newfd", 10L), ("flags", "O_CLOEXEC"));
        Decoded.AssertEqual(_decoder.DecodeEntry("pipe2", Calls.X64(Stack, 0x800), _memory), ("pipefd", "0x7ffd12341000"), ("flags", "O_NONBLOCK"));
        Decoded.AssertEqual(
            _decoder.DecodeEntry("wait4", Calls.X64(0xffff_ffff, Stack, 1, 0), _memory),
            ("pid", -1L), ("wstatus", "0x7ffd12341000"), ("options", "WNOHANG"), ("rusage", "0x0"));
        Decoded.AssertEqual(_decoder.DecodeEntry("ioctl", Calls.X64(0, 0x5401, Stack), _memory), ("fd", 0L), ("request", "0x5401"), ("arg", "0x7ffd12341000"));
        Decoded.AssertEqual(_decoder.DecodeEntry("fcntl", Calls.X64(3, 2, 1), _memory), ("fd", 3L), ("cmd", "F_SETFD"), ("arg", 1L));
    }

    [Test]
    public void Kernel_symbol_prefixes_are_accepted()
    {
        _memory.PutString(Strings, "/etc/shadow");
        Assert.That(_decoder.DecodeEntry("__x64_sys_openat", Calls.X64(AtFdCwd, Strings, 0, 0), _memory)["pathname"], Is.EqualTo("/etc/shadow"));
        Assert.That(_decoder.DecodeEntry("sys_open", Calls.X64(Strings, 0, 0), _memory)["pathname"], Is.EqualTo("/etc/shadow"));
        Assert.That(_decoder.IsKnown("__ia32_sys_execve", Nitro.Reactive.Syscalls.CallingConvention.LinuxIa32), Is.True);
        Assert.That(_decoder.IsKnown("sys_no_such_call"), Is.False);
    }

    [Test]
    public void Unknown_calls_yield_six_raw_arguments_in_hex()
    {
        var decoded = _decoder.DecodeEntry("process_madvise", Calls.X64(1, 2, 0xff, 4, 5, 0x7ffd_0000_0000), _memory);
        Decoded.AssertEqual(
            decoded,
            ("arg0", "0x1"), ("arg1", "0x2"), ("arg2", "0xff"), ("arg3", "0x4"), ("arg4", "0x5"), ("arg5", "0x7ffd00000000"));
    }

    [Test]
    public void Entries_come_in_argument_order()
    {
        _memory.PutString(Strings, "x");
        var decoded = _decoder.DecodeEntry("openat", Calls.X64(AtFdCwd, Strings, 0, 0), _memory);
        Assert.That(decoded.Keys, Is.EqualTo(new[] { "dirfd", "pathname", "flags", "mode" }));
    }

    [Test]
    public void Every_known_call_decodes_all_zero_arguments_without_throwing()
    {
        foreach (var name in _decoder.KnownSyscalls)
        {
            Assert.That(() => _decoder.DecodeEntry(name, Calls.X64(), _memory), Throws.Nothing, name);
            Assert.That(() => _decoder.DecodeEntry(name, Calls.X64(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue), _memory), Throws.Nothing, name);
        }
    }

    /// <summary>Writes the strings at <paramref name="stringsAt"/> and a NULL-terminated pointer array at <paramref name="arrayAt"/>.</summary>
    private ulong PutStrings(ulong stringsAt, ulong arrayAt, params string[] values)
    {
        var cursor = stringsAt;
        for (var i = 0; i < values.Length; i++)
        {
            _memory.PutString(cursor, values[i]);
            _memory.PutUInt64(arrayAt + (ulong)(8 * i), cursor);
            cursor += (ulong)Encoding.UTF8.GetByteCount(values[i]) + 1;
        }

        _memory.PutUInt64(arrayAt + (ulong)(8 * values.Length), 0);
        return arrayAt;
    }
}
