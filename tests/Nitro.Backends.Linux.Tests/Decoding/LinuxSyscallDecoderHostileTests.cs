using Nitro.Backends.Linux.Decoding;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>The guest is hostile: bad pointers, loops and huge lengths give markers or bounded values, never exceptions or big reads.</summary>
public sealed class LinuxSyscallDecoderHostileTests
{
    private const ulong AtFdCwd = unchecked((ulong)-100L);
    private const ulong Page = 0x5555_5555_8000;
    private const ulong Unmapped = 0x6666_0000_0000;

    private readonly LinuxSyscallDecoder _decoder = LinuxSyscallDecoder.Default;
    private FakeVirtualMemory _memory = null!;

    [SetUp]
    public void SetUp() => _memory = new FakeVirtualMemory();

    [Test]
    public void Null_path_is_a_null_pointer_marker()
    {
        var decoded = _decoder.DecodeEntry("openat", Calls.X64(AtFdCwd, 0, 0, 0), _memory);
        Assert.That(decoded["pathname"], Is.EqualTo(new Unreadable(0, "null pointer")));
        Assert.That(decoded["flags"], Is.EqualTo("O_RDONLY"), "the other arguments survive");
    }

    [Test]
    public void Unmapped_path_is_a_not_mapped_marker_with_its_address()
    {
        var decoded = _decoder.DecodeEntry("open", Calls.X64(Unmapped, 0, 0), _memory);
        Assert.That(decoded["pathname"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
    }

    [Test]
    public void Without_guest_memory_pointed_to_values_are_markers()
    {
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(Page, Page + 8, Page + 16), memory: null);
        Assert.That(decoded["filename"], Is.EqualTo(new Unreadable(Page, "no guest memory attached")));
        Assert.That(decoded["argv"], Is.InstanceOf<Unreadable>());
        Assert.That(decoded["envc"], Is.InstanceOf<Unreadable>());
    }

    [Test]
    public void Unterminated_path_at_the_end_of_a_page_stops_at_the_page()
    {
        var start = Page + 0x1000 - 5;
        _memory.Put(start, "/abcd"u8); // no NUL, the next page is unmapped
        var decoded = _decoder.DecodeEntry("unlink", Calls.X64(start), _memory);
        Assert.That(decoded["pathname"], Is.EqualTo("/abcd"));
    }

    [Test]
    public void Path_without_terminator_is_bounded_to_4096_bytes()
    {
        var filler = new byte[5 * 0x1000];
        filler.AsSpan().Fill((byte)'a');
        _memory.Put(Page, filler);
        var decoded = _decoder.DecodeEntry("unlink", Calls.X64(Page), _memory);
        Assert.That(decoded["pathname"], Is.TypeOf<string>().And.Length.EqualTo(LinuxSyscallDecoder.MaxStringBytes));
        Assert.That(_memory.BytesRead, Is.LessThanOrEqualTo(LinuxSyscallDecoder.MaxStringBytes));
    }

    [Test]
    public void Invalid_utf8_in_a_path_becomes_replacement_characters()
    {
        _memory.Put(Page, [(byte)'/', 0xC3, 0x28, 0xFF, (byte)'x', 0]);
        var path = (string)_decoder.DecodeEntry("unlink", Calls.X64(Page), _memory)["pathname"]!;
        Assert.That(path, Does.StartWith("/").And.EndWith("x").And.Contain("\uFFFD"));
    }

    [Test]
    public void Argv_that_points_to_itself_is_bounded()
    {
        for (var i = 0UL; i < 0x1000; i += 8)
        {
            _memory.PutUInt64(Page + i, Page); // every entry points back at the array itself
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(0, Page, Page), _memory);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(decoded["argv"], Is.TypeOf<string[]>().And.Length.EqualTo(LinuxSyscallDecoder.MaxArgvEntries));
        Assert.That(decoded["argv_truncated"], Is.True);
        Assert.That(decoded["envc"], Is.EqualTo(512L), "a page of non-NULL pointers, then an unmapped page");
        Assert.That(decoded["envc_truncated"], Is.True);
        Assert.That(allocated, Is.LessThan(256 * 1024));
    }

    [Test]
    public void Argv_of_ten_thousand_entries_is_cut_at_the_bound_without_reading_them_all()
    {
        const int count = 10_000;
        var text = Page + 0x10_0000;
        _memory.PutString(text, "arg");
        var pointers = new byte[(count + 1) * 8];
        for (var i = 0; i < count; i++)
        {
            BitConverter.GetBytes(text).CopyTo(pointers, i * 8);
        }

        _memory.Put(Page, pointers);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(text, Page, Page), _memory);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        var argv = (string[])decoded["argv"]!;
        Assert.That(argv, Has.Length.EqualTo(LinuxSyscallDecoder.MaxArgvEntries).And.All.EqualTo("arg"));
        Assert.That(decoded["argv_truncated"], Is.True);
        Assert.That(decoded["envc"], Is.EqualTo((long)LinuxSyscallDecoder.MaxEnvpEntries));
        Assert.That(decoded["envc_truncated"], Is.True);
        Assert.That(_memory.BytesRead, Is.LessThan(256 * 1024), "bytes read from the guest");
        Assert.That(allocated, Is.LessThan(256 * 1024), "bytes allocated");
    }

    [Test]
    public void Argv_total_size_is_bounded_even_with_few_long_strings()
    {
        var filler = new byte[0x1000 * 12];
        filler.AsSpan().Fill((byte)'z');
        var text = Page + 0x10_0000;
        _memory.Put(text, filler);
        for (var i = 0UL; i < 100; i++)
        {
            _memory.PutUInt64(Page + (8 * i), text + (0x1000 * (i % 10)));
        }

        _memory.PutUInt64(Page + 800, 0);
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(text, Page, 0), _memory);
        var argv = (string[])decoded["argv"]!;
        var total = 0;
        foreach (var arg in argv)
        {
            total += arg.Length;
        }

        Assert.That(total, Is.LessThanOrEqualTo(LinuxSyscallDecoder.MaxArgvTotalBytes));
        Assert.That(decoded["argv_truncated"], Is.True);
    }

    [Test]
    public void Argv_with_an_unreadable_entry_keeps_the_others()
    {
        _memory.PutString(Page + 0x100, "ok");
        _memory.PutUInt64(Page, Page + 0x100);
        _memory.PutUInt64(Page + 8, Unmapped);
        _memory.PutUInt64(Page + 16, 0);
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(Page + 0x100, Page, 0), _memory);
        Assert.That(decoded["argv"], Is.EqualTo(new[] { "ok", "<unreadable>" }));
        Assert.That(decoded.ContainsKey("argv_truncated"), Is.False);
        Assert.That(decoded["envc"], Is.EqualTo(0L), "a NULL envp is empty");
    }

    [Test]
    public void Argv_array_at_an_unmapped_address_is_a_marker()
    {
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(Page, Unmapped, Unmapped), _memory);
        Assert.That(decoded["argv"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
        Assert.That(decoded["envc"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
    }

    [Test]
    public void Argv_array_that_runs_into_an_unmapped_page_is_truncated()
    {
        var start = Page + 0x1000 - 16;
        _memory.PutString(Page, "a");
        _memory.PutUInt64(start, Page);
        _memory.PutUInt64(start + 8, Page);
        var decoded = _decoder.DecodeEntry("execve", Calls.X64(Page, start, 0), _memory);
        Assert.That(decoded["argv"], Is.EqualTo(new[] { "a", "a" }));
        Assert.That(decoded["argv_truncated"], Is.True);
    }

    [Test]
    public void Socket_address_with_a_huge_length_reads_at_most_128_bytes()
    {
        _memory.Put(Page, [2, 0, 0, 80, 10, 0, 2, 2]);
        var decoded = _decoder.DecodeEntry("connect", Calls.X64(3, Page, 0xffff_ffff), _memory);
        Assert.That(decoded["addr"], Is.EqualTo("10.0.2.2:80"));
        Assert.That(decoded["addrlen"], Is.EqualTo(-1L));
        Assert.That(_memory.BytesRead, Is.LessThanOrEqualTo(LinuxSyscallDecoder.MaxSocketAddressBytes));
    }

    [Test]
    public void Socket_address_that_is_too_short_or_unmapped_or_null_is_marked()
    {
        _memory.Put(Page, [2]);
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Page, 1), _memory)["addr"], Is.EqualTo("short sockaddr (1 bytes)"));
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Page, 4), _memory)["addr"], Is.EqualTo("AF_INET (truncated, 4 bytes)"));
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, Unmapped, 16), _memory)["addr"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
        Assert.That(_decoder.DecodeEntry("connect", Calls.X64(3, 0, 0), _memory)["addr"], Is.Null);
    }

    [Test]
    public void Ipv6_address_cut_short_by_its_length_is_marked_truncated()
    {
        _memory.Put(Page, new byte[28]);
        _memory.Put(Page, [10, 0]);
        Assert.That(_decoder.DecodeEntry("bind", Calls.X64(3, Page, 12), _memory)["addr"], Is.EqualTo("AF_INET6 (truncated, 12 bytes)"));
    }

    [Test]
    public void Clone3_with_a_huge_size_reads_only_the_known_structure()
    {
        var args = new byte[0x1000];
        BitConverter.GetBytes(0x100UL).CopyTo(args, 0);
        BitConverter.GetBytes(17UL).CopyTo(args, 32);
        _memory.Put(Page, args);
        var decoded = _decoder.DecodeEntry("clone3", Calls.X64(Page, 1UL << 30), _memory);
        Assert.That(decoded["flags"], Is.EqualTo("CLONE_VM"));
        Assert.That(decoded["exit_signal"], Is.EqualTo("SIGCHLD"));
        Assert.That(decoded["size"], Is.EqualTo(1L << 30));
        Assert.That(_memory.BytesRead, Is.LessThanOrEqualTo(88));
    }

    [Test]
    public void Clone3_structure_cut_by_an_unmapped_page_is_partial()
    {
        var start = Page + 0x1000 - 16;
        _memory.PutUInt64(start, 0x100);
        var decoded = _decoder.DecodeEntry("clone3", Calls.X64(start, 88), _memory);
        Assert.That(decoded["flags"], Is.EqualTo("CLONE_VM"));
        Assert.That(decoded["cl_args_truncated"], Is.True);
        Assert.That(decoded.ContainsKey("exit_signal"), Is.False);
        Assert.That(_decoder.DecodeEntry("clone3", Calls.X64(Unmapped, 88), _memory)["cl_args"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
    }

    [Test]
    public void Open_how_that_is_unreadable_is_a_marker()
    {
        _memory.PutString(Page, "x");
        var decoded = _decoder.DecodeEntry("openat2", Calls.X64(AtFdCwd, Page, Unmapped, 24), _memory);
        Assert.That(decoded["how"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
        Assert.That(decoded["pathname"], Is.EqualTo("x"));
    }

    [Test]
    public void Write_buffer_previews_what_is_readable()
    {
        var start = Page + 0x1000 - 4;
        _memory.Put(start, [1, 2, 3, 4]);
        Assert.That(_decoder.DecodeEntry("write", Calls.X64(1, start, 100), _memory)["buf"], Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
        Assert.That(_decoder.DecodeEntry("write", Calls.X64(1, Unmapped, 100), _memory)["buf"], Is.EqualTo(new Unreadable(Unmapped, "not mapped")));
        Assert.That(_decoder.DecodeEntry("write", Calls.X64(1, 0, 100), _memory)["buf"], Is.EqualTo(new Unreadable(0, "null pointer")));
        Assert.That(_decoder.DecodeEntry("write", Calls.X64(1, 0, 0), _memory)["buf"], Is.Empty);
    }

    [Test]
    public void Real_page_walker_with_wild_pointers_never_throws()
    {
        // Empty page tables: every address is unmapped, non-canonical or wraps around the top.
        var space = new X86AddressSpace(new ArrayGuestMemory(0x10000), 0x1000);
        ulong[] wild = [0x8000_0000_0000_0000, ulong.MaxValue, ulong.MaxValue - 3, 0x0000_7fff_ffff_fffc, 1];
        foreach (var name in _decoder.KnownSyscalls)
        {
            foreach (var pointer in wild)
            {
                var arguments = Calls.X64(pointer, pointer, pointer, pointer, pointer, pointer);
                Assert.That(() => _decoder.DecodeEntry(name, arguments, space), Throws.Nothing, $"{name} entry 0x{pointer:x}");
                Assert.That(() => _decoder.DecodeExit(name, 1, arguments, space), Throws.Nothing, $"{name} exit 0x{pointer:x}");
            }
        }

        var path = _decoder.DecodeEntry("open", Calls.X64(0x8000_0000_0000_0000, 0, 0), space)["pathname"];
        Assert.That(path, Is.EqualTo(new Unreadable(0x8000_0000_0000_0000, "non-canonical")));
    }

    [Test]
    public void Unknown_calls_under_a_stack_convention_list_only_register_arguments()
    {
        var registers = default(Nitro.Reactive.Events.Registers);
        var trap = new Nitro.Reactive.Events.NitroEvent(0, Nitro.Reactive.Events.SyscallDirection.Enter, Nitro.Reactive.Events.SyscallMechanism.Syscall, in registers, default, 0);
        var decoded = _decoder.DecodeEntry("NtNothing", new ArgumentMap(trap, CallingConvention.WindowsX64, null), _memory);
        Assert.That(decoded.Keys, Is.EqualTo(new[] { "arg0", "arg1", "arg2", "arg3" }));
    }

    [Test]
    public void Write_with_a_huge_count_reads_only_the_preview()
    {
        _memory.Put(Page, new byte[0x1000]);
        var decoded = _decoder.DecodeEntry("write", Calls.X64(1, Page, ulong.MaxValue), _memory);
        Assert.That(decoded["buf"], Has.Length.EqualTo(LinuxSyscallDecoder.BufferPreviewBytes));
        Assert.That(_memory.BytesRead, Is.EqualTo(LinuxSyscallDecoder.BufferPreviewBytes));
    }
}
