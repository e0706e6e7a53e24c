using Nitro.Backends.Linux.Decoding;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tests.Decoding;

public sealed class LinuxSyscallDecoderExitTests
{
    private const ulong Stack = 0x7ffd_1234_0000;

    private readonly LinuxSyscallDecoder _decoder = LinuxSyscallDecoder.Default;
    private FakeVirtualMemory _memory = null!;

    [SetUp]
    public void SetUp() => _memory = new FakeVirtualMemory();

    [Test]
    public void Success_returns_the_value()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("openat", 3, Calls.X64(), _memory), ("return", 3L));
        Decoded.AssertEqual(_decoder.DecodeExit("read", 4096, Calls.X64(), _memory), ("return", 4096L));
    }

    [TestCase(-2, "ENOENT")]
    [TestCase(-13, "EACCES")]
    [TestCase(-111, "ECONNREFUSED")]
    [TestCase(-133, "EHWPOISON")]
    [TestCase(-512, "ERESTARTSYS")]
    [TestCase(-41, "41")]
    [TestCase(-4095, "4095")]
    public void Failure_names_the_errno(long value, string errno) =>
        Decoded.AssertEqual(_decoder.DecodeExit("openat", value, Calls.X64(), _memory), ("return", value), ("errno", errno));

    [Test]
    public void Values_below_the_errno_range_are_not_failures()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("lseek", -4096, Calls.X64(), _memory), ("return", -4096L));
    }

    [Test]
    public void Mmap_returns_an_address_in_hex_and_fails_with_an_errno()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("mmap", 0x7f3a_5c00_0000, Calls.X64(), _memory), ("return", "0x7f3a5c000000"));
        Decoded.AssertEqual(_decoder.DecodeExit("mmap", -12, Calls.X64(), _memory), ("return", -12L), ("errno", "ENOMEM"));
    }

    [Test]
    public void Unknown_calls_return_only_the_value()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("no_such_call", 0x10, Calls.X64(), _memory), ("return", 16L));
        Decoded.AssertEqual(_decoder.DecodeExit("no_such_call", -1, Calls.X64(), _memory), ("return", -1L), ("errno", "EPERM"));
    }

    [Test]
    public void Accept4_decodes_the_peer_address_on_exit()
    {
        _memory.Put(Stack, [2, 0, 0xC3, 0x50, 192, 168, 1, 20, 0, 0, 0, 0, 0, 0, 0, 0]);
        _memory.PutUInt32(Stack + 0x80, 16);
        var decoded = _decoder.DecodeExit("accept4", 5, Calls.X64(3, Stack, Stack + 0x80, 0), _memory);
        Decoded.AssertEqual(decoded, ("return", 5L), ("addr", "192.168.1.20:50000"), ("addrlen", 16L));
    }

    [Test]
    public void Accept_without_an_address_buffer_returns_only_the_fd()
    {
        Decoded.AssertEqual(_decoder.DecodeExit("accept", 5, Calls.X64(3, 0, 0), _memory), ("return", 5L));
    }

    [Test]
    public void Accept_with_an_unreadable_length_marks_the_address()
    {
        var decoded = _decoder.DecodeExit("accept", 5, Calls.X64(3, Stack, 0x6666_0000_0000), _memory);
        Assert.That(decoded["addr"], Is.EqualTo(new Unreadable(0x6666_0000_0000, "not mapped")));
    }

    [Test]
    public void Failed_accept_does_not_read_the_address()
    {
        _memory.PutUInt32(Stack + 0x80, 16);
        Decoded.AssertEqual(_decoder.DecodeExit("accept", -11, Calls.X64(3, Stack, Stack + 0x80), _memory), ("return", -11L), ("errno", "EAGAIN"));
        Assert.That(_memory.BytesRead, Is.Zero);
    }

    [Test]
    public void Pipe2_reports_both_descriptors()
    {
        _memory.PutUInt32(Stack, 3);
        _memory.PutUInt32(Stack + 4, 4);
        Decoded.AssertEqual(_decoder.DecodeExit("pipe2", 0, Calls.X64(Stack, 0x80000), _memory), ("return", 0L), ("read_fd", 3L), ("write_fd", 4L));
    }

    [TestCase(0x0000, "exited 0")]
    [TestCase(0x0100, "exited 1")]
    [TestCase(0x0009, "killed SIGKILL")]
    [TestCase(0x008B, "killed SIGSEGV (core dumped)")]
    [TestCase(0x137F, "stopped SIGSTOP")]
    [TestCase(0xFFFF, "continued")]
    public void Wait4_decodes_the_status_word(int status, string expected)
    {
        _memory.PutUInt32(Stack, (uint)status);
        var decoded = _decoder.DecodeExit("wait4", 1234, Calls.X64(unchecked((ulong)-1L), Stack, 0, 0), _memory);
        Decoded.AssertEqual(decoded, ("return", 1234L), ("wstatus", expected));
    }

    [Test]
    public void Wait4_with_no_child_ready_reads_no_status()
    {
        _memory.PutUInt32(Stack, 0);
        Decoded.AssertEqual(_decoder.DecodeExit("wait4", 0, Calls.X64(unchecked((ulong)-1L), Stack, 1, 0), _memory), ("return", 0L));
    }
}
