using System.Text;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

public sealed class VirtualMemoryExtensionsTests
{
    private const ulong Page = 0x0000_7FFF_0000_0000;
    private const ulong Frame = 0x9000;
    private const ulong NextFrame = 0x3000;

    // Page and Page + 0x1000 mapped to two non-adjacent frames; Page + 0x2000 unmapped.
    private static (PageTableBuilder Builder, X86AddressSpace Space) TwoPages()
    {
        var builder = new PageTableBuilder().Map4K(Page, Frame).Map4K(Page + 0x1000, NextFrame);
        return (builder, builder.AddressSpace());
    }

    [Test]
    public void ReadUtf8String_stops_at_NUL()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame + 0x10, "/etc/passwd\0garbage"u8);

        Assert.That(space.ReadUtf8String(Page + 0x10), Is.EqualTo("/etc/passwd"));
    }

    [Test]
    public void ReadUtf8String_follows_a_string_across_a_page_boundary()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame + 0xFFA, "/usr/l"u8);
        builder.WriteBytes(NextFrame, "ib/libc.so\0"u8);

        Assert.That(space.ReadUtf8String(Page + 0xFFA), Is.EqualTo("/usr/lib/libc.so"));
    }

    [Test]
    public void ReadUtf8String_stops_at_the_bound()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame, "abcdefgh\0"u8);

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadUtf8String(Page, maxBytes: 5), Is.EqualTo("abcde"));
            Assert.That(space.ReadUtf8String(Page, maxBytes: 0), Is.Empty);
        });
    }

    [Test]
    public void ReadUtf8String_longer_than_one_chunk_is_read_whole()
    {
        var (builder, space) = TwoPages();
        var text = new string('x', 700) + new string('y', 900);
        builder.WriteBytes(Frame + 0x100, Encoding.UTF8.GetBytes(text + "\0"));

        Assert.That(space.ReadUtf8String(Page + 0x100), Is.EqualTo(text));
    }

    [Test]
    public void ReadUtf8String_stops_at_an_unmapped_page()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(NextFrame + 0xFFC, "tail"u8); // runs into the unmapped third page

        Assert.That(space.ReadUtf8String(Page + 0x1FFC), Is.EqualTo("tail"));
    }

    [Test]
    public void ReadUtf8String_throws_when_the_first_byte_is_unmapped()
    {
        var (_, space) = TwoPages();

        var ex = Assert.Throws<GuestMemoryException>(() => space.ReadUtf8String(Page + 0x2000));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.NotPresent));
            Assert.That(ex.Address, Is.EqualTo(Page + 0x2000));
        });
    }

    [Test]
    public void ReadUtf8String_replaces_invalid_UTF8()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame, [(byte)'a', 0xFF, (byte)'b', 0]);

        Assert.That(space.ReadUtf8String(Page), Is.EqualTo("a\uFFFDb"));
    }

    [Test]
    public void ReadUtf16String_stops_at_a_NUL_character_not_a_NUL_byte()
    {
        var (builder, space) = TwoPages();
        // "A\u0100" is 41 00 00 01 in UTF-16LE: a zero byte pair straddling two characters.
        builder.WriteBytes(Frame, Encoding.Unicode.GetBytes("A\u0100x\0junk"));

        Assert.That(space.ReadUtf16String(Page), Is.EqualTo("A\u0100x"));
    }

    [Test]
    public void ReadUtf16String_stops_at_the_bound_and_at_an_unmapped_page()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame, Encoding.Unicode.GetBytes("abcdef\0"));
        builder.WriteBytes(NextFrame + 0xFFA, Encoding.Unicode.GetBytes("xyz"));

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadUtf16String(Page, maxChars: 4), Is.EqualTo("abcd"));
            Assert.That(space.ReadUtf16String(Page + 0x1FFA), Is.EqualTo("xyz"));
        });
    }

    [Test]
    public void ReadUtf16String_follows_a_string_across_a_page_boundary_at_an_odd_address()
    {
        var (builder, space) = TwoPages();
        var bytes = Encoding.Unicode.GetBytes("hello\0");
        builder.WriteBytes(Frame + 0xFFB, bytes.AsSpan(0, 5));
        builder.WriteBytes(NextFrame, bytes.AsSpan(5));

        Assert.That(space.ReadUtf16String(Page + 0xFFB), Is.EqualTo("hello"));
    }

    [Test]
    public void ReadUtf16String_throws_when_the_first_character_is_unmapped()
    {
        var (_, space) = TwoPages();

        Assert.Throws<GuestMemoryException>(() => space.ReadUtf16String(0xFFFF_8000_0000_0000));
    }

    [Test]
    public void ReadCountedUtf16String_reads_exactly_the_given_length()
    {
        var (builder, space) = TwoPages();
        space.Write(Page + 0xFFC, Encoding.Unicode.GetBytes("\\??\\C:")); // crosses into the next page

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadCountedUtf16String(Page + 0xFFC, 12), Is.EqualTo("\\??\\C:"));
            Assert.That(space.ReadCountedUtf16String(Page + 0xFFC, 5), Is.EqualTo("\\?"));
            Assert.Throws<GuestMemoryException>(() => space.ReadCountedUtf16String(Page + 0x1FFC, 8));
        });
    }

    [Test]
    public void ReadBytes_reads_across_pages_and_enforces_its_bound()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame + 0xFFE, [1, 2]);
        builder.WriteBytes(NextFrame, [3, 4]);

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadBytes(Page + 0xFFE, 4), Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
            Assert.That(space.ReadBytes(Page, 0), Is.Empty);
            Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadBytes(Page, VirtualMemoryExtensions.MaxReadLength + 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadBytes(Page, -1));
            Assert.Throws<GuestMemoryException>(() => space.ReadBytes(Page + 0x1FFE, 4));
        });
    }

    [Test]
    public void ReadUInt64_and_ReadUInt32_are_little_endian()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame + 0xFFC, [0x01, 0x02, 0x03, 0x04]);
        builder.WriteBytes(NextFrame, [0x05, 0x06, 0x07, 0x08]);

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadUInt64(Page + 0xFFC), Is.EqualTo(0x0807_0605_0403_0201UL));
            Assert.That(space.ReadUInt32(Page + 0xFFC), Is.EqualTo(0x0403_0201U));
        });
    }

    [Test]
    public void String_bounds_above_the_maximum_are_rejected()
    {
        var (_, space) = TwoPages();

        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadUtf8String(Page, VirtualMemoryExtensions.MaxReadLength + 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadUtf16String(Page, (VirtualMemoryExtensions.MaxReadLength / 2) + 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadUtf8String(Page, -1));
            Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => space.ReadUtf16String(Page, -1))?.ParamName, Is.EqualTo("maxChars"));
        });
    }
    [Test]
    public void TryReadOrMark_reads_or_names_why_not()
    {
        var (builder, space) = TwoPages();
        builder.WriteBytes(Frame + 0x20, [1, 2, 3, 4]);
        var bytes = new byte[4];

        Assert.Multiple(() =>
        {
            Assert.That((space.TryReadOrMark(Page + 0x20, bytes), bytes), Is.EqualTo(((Nitro.Reactive.Syscalls.Unreadable?)null, new byte[] { 1, 2, 3, 4 })));
            Assert.That(space.TryReadOrMark(0, bytes), Is.EqualTo(Nitro.Reactive.Syscalls.Unreadable.NullPointer));
            Assert.That(space.TryReadOrMark(Page + 0x2000, bytes), Is.EqualTo(new Nitro.Reactive.Syscalls.Unreadable(Page + 0x2000, "not mapped")));
            Assert.That(((IVirtualMemory?)null).TryReadOrMark(Page, bytes)!.Reason, Is.EqualTo("no guest memory attached"));
            Assert.That(space.MarkerFor(Page + 0x2000).Reason, Is.EqualTo("not mapped"));
        });
    }

    [Test]
    public void ReadPartialOrNone_stops_at_the_unmapped_page_and_never_throws()
    {
        var (_, space) = TwoPages();
        var bytes = new byte[0x20];

        Assert.Multiple(() =>
        {
            Assert.That(space.ReadPartialOrNone(Page + 0x1FF0, bytes), Is.EqualTo(0x10));
            Assert.That(space.ReadPartialOrNone(Page + 0x2000, bytes), Is.Zero);
            Assert.That(space.ReadPartialOrNone(0, bytes), Is.Zero);
            Assert.That(((IVirtualMemory?)null).ReadPartialOrNone(Page, bytes), Is.Zero);
        });
    }
    [Test]
    public void A_bad_pointer_is_marked_without_an_exception_inside_the_walker()
    {
        var (_, space) = TwoPages();
        var bytes = new byte[8];
        var thrown = 0;
        void Count(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e) => Interlocked.Increment(ref thrown);
        AppDomain.CurrentDomain.FirstChanceException += Count;
        Nitro.Reactive.Syscalls.Unreadable? unmapped, straddling, nonCanonical;
        try
        {
            unmapped = space.TryReadOrMark(Page + 0x2000, bytes);
            straddling = space.TryReadOrMark(Page + 0x1FFC, bytes);
            nonCanonical = space.TryReadOrMark(0x8000_0000_0000_0000, bytes);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.That((unmapped!.Reason, straddling!.Reason, straddling.Address, nonCanonical!.Reason), Is.EqualTo(("not mapped", "not mapped", Page + 0x1FFC, "non-canonical")));
        Assert.That(thrown, Is.Zero);
    }

    [Test]
    public void Probe_tells_the_fault_of_an_address_without_translating_it()
    {
        var (_, space) = TwoPages();

        Assert.Multiple(() =>
        {
            Assert.That(space.Probe(Page + 0x10), Is.Null);
            Assert.That(space.Probe(Page + 0x2000), Is.EqualTo(GuestMemoryFault.NotPresent));
            Assert.That(space.Probe(0x8000_0000_0000_0000), Is.EqualTo(GuestMemoryFault.NonCanonical));
        });
    }
}
