using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>32-bit callers: ebx ecx edx esi edi ebp, 32-bit pointers in arrays and structures.</summary>
public sealed class LinuxSyscallDecoderIa32Tests
{
    private const uint Strings = 0x0804_a000;
    private const uint Array = 0xffd0_1000;
    private const uint Buffer = 0xffd0_2000;

    private readonly LinuxSyscallDecoder _decoder = LinuxSyscallDecoder.Default;
    private FakeVirtualMemory _memory = null!;

    [SetUp]
    public void SetUp() => _memory = new FakeVirtualMemory();

    [Test]
    public void Open_reads_a_32_bit_path_pointer()
    {
        _memory.PutString(Strings, "/etc/hostname");
        var decoded = _decoder.DecodeEntry("open", Calls.Ia32(Strings, 0x8000 | 0x80000, 0), _memory);
        Decoded.AssertEqual(decoded, ("pathname", "/etc/hostname"), ("flags", "O_RDONLY|O_LARGEFILE|O_CLOEXEC"), ("mode", "0000"));
    }

    [Test]
    public void Read_and_write_use_32_bit_registers()
    {
        _memory.Put(Buffer, "hi\n"u8);
        Decoded.AssertEqual(_decoder.DecodeEntry("read", Calls.Ia32(0, Buffer, 512), _memory), ("fd", 0L), ("buf", "0xffd02000"), ("count", 512L));
        Decoded.AssertEqual(_decoder.DecodeEntry("write", Calls.Ia32(1, Buffer, 3), _memory), ("fd", 1L), ("buf", "hi\n"u8.ToArray()), ("count", 3L));
    }

    [Test]
    public void Execve_reads_an_array_of_32_bit_pointers()
    {
        _memory.PutString(Strings, "/bin/busybox");
        _memory.PutString(Strings + 0x20, "ls");
        _memory.PutString(Strings + 0x30, "-l");
        _memory.PutUInt32(Array, Strings + 0x20);
        _memory.PutUInt32(Array + 4, Strings + 0x30);
        _memory.PutUInt32(Array + 8, 0);
        _memory.PutUInt32(Array + 12, Strings + 0x20); // envp[0]
        _memory.PutUInt32(Array + 16, 0);
        var decoded = _decoder.DecodeEntry("execve", Calls.Ia32(Strings, Array, Array + 12), _memory);
        Decoded.AssertEqual(decoded, ("filename", "/bin/busybox"), ("argv", new[] { "ls", "-l" }), ("envc", 1L));
    }

    [Test]
    public void Old_mmap_reads_its_argument_block()
    {
        var block = new byte[24];
        BitConverter.GetBytes(0u).CopyTo(block, 0);
        BitConverter.GetBytes(0x2000u).CopyTo(block, 4);
        BitConverter.GetBytes(5u).CopyTo(block, 8);
        BitConverter.GetBytes(0x2u).CopyTo(block, 12);
        BitConverter.GetBytes(3u).CopyTo(block, 16);
        BitConverter.GetBytes(0x1000u).CopyTo(block, 20);
        _memory.Put(Array, block);
        Decoded.AssertEqual(
            _decoder.DecodeEntry("mmap", Calls.Ia32(Array), _memory),
            ("addr", "0x0"), ("length", 0x2000L), ("prot", "PROT_READ|PROT_EXEC"), ("flags", "MAP_PRIVATE"), ("fd", 3L), ("offset", 0x1000L));
    }

    [Test]
    public void Mmap2_takes_six_register_arguments()
    {
        var decoded = _decoder.DecodeEntry("mmap2", Calls.Ia32(0, 4096, 3, 0x22, 0xffff_ffff, 0), _memory);
        Assert.That(decoded["fd"], Is.EqualTo(-1L));
        Assert.That(decoded["flags"], Is.EqualTo("MAP_PRIVATE|MAP_ANONYMOUS"));
    }

    [Test]
    public void Mmap_pgoff_the_handler_name_of_mmap2_decodes_as_mmap2()
    {
        var decoded = _decoder.DecodeEntry("mmap_pgoff", Calls.Ia32(0, 4096, 3, 0x22, 0xffff_ffff, 2), _memory);
        Assert.That(decoded["prot"], Is.EqualTo("PROT_READ|PROT_WRITE"));
        Assert.That(decoded["pgoffset"], Is.EqualTo(2L));
        Assert.That(_decoder.DecodeExit("mmap_pgoff", 0xF7F0_0000, Calls.Ia32(), _memory)["return"], Is.EqualTo("0xf7f00000"));
    }

    [Test]
    public void Clone_has_tls_before_child_tid()
    {
        var decoded = _decoder.DecodeEntry("clone", Calls.Ia32(0x0120_0011, 0, 0, 0x1111, 0x2222), _memory);
        Assert.That(decoded["tls"], Is.EqualTo("0x1111"));
        Assert.That(decoded["child_tid"], Is.EqualTo("0x2222"));
    }

    [Test]
    public void Pread64_joins_the_offset_halves()
    {
        var decoded = _decoder.DecodeEntry("pread64", Calls.Ia32(3, Buffer, 100, 0x10, 0x1), _memory);
        Decoded.AssertEqual(decoded, ("fd", 3L), ("buf", "0xffd02000"), ("count", 100L), ("offset", 0x1_0000_0010L));
    }

    [Test]
    public void Ia32_names_of_the_same_shapes_are_decoded()
    {
        _memory.PutString(Strings, "/proc/self/maps");
        Assert.That(_decoder.DecodeEntry("stat64", Calls.Ia32(Strings, Buffer), _memory)["pathname"], Is.EqualTo("/proc/self/maps"));
        Assert.That(_decoder.DecodeEntry("fcntl64", Calls.Ia32(3, 1030, 10), _memory)["cmd"], Is.EqualTo("F_DUPFD_CLOEXEC"));
        Assert.That(_decoder.IsKnown("stat64"), Is.False, "x86-64 has no stat64");
    }

    [Test]
    public void Exit_sign_extends_a_32_bit_return_value()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("open", 0xFFFF_FFFE, Calls.Ia32(), _memory), ("return", -2L), ("errno", "ENOENT"));
        Decoded.AssertEqual(_decoder.DecodeExit("mmap2", 0xF7F0_0000, Calls.Ia32(), _memory), ("return", "0xf7f00000"));
    }

    [Test]
    public void Every_known_call_decodes_hostile_32_bit_arguments_without_throwing()
    {
        foreach (var name in _decoder.KnownSyscalls)
        {
            Assert.That(() => _decoder.DecodeEntry(name, Calls.Ia32(uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue), _memory), Throws.Nothing, name);
            Assert.That(() => _decoder.DecodeExit(name, uint.MaxValue, Calls.Ia32(uint.MaxValue, uint.MaxValue, uint.MaxValue), _memory), Throws.Nothing, name);
        }
    }
}
