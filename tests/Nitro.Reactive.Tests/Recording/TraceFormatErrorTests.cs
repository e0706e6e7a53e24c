using System.Buffers.Binary;
using Nitro.Reactive.Recording;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

public sealed class TraceFormatErrorTests
{
    private static byte[] ValidFile() => WriteEvents(TraceTestData.Events(200, 3, seed: 21), blockSize: 4096);

    [Test]
    public void Wrong_magic_is_reported_at_offset_0()
    {
        var file = ValidFile();
        file[3] ^= 0x20;

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(0));
        Assert.That(error.Message, Does.Contain("not a Nitro trace").And.Contain("offset 0"));
    }

    [Test]
    public void A_future_version_is_refused_at_offset_8_with_advice()
    {
        var file = ValidFile();
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), TraceFormat.CurrentVersion + 1);

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(8));
        Assert.That(error.Message, Does.Contain($"version {TraceFormat.CurrentVersion + 1}").And.Contain("newer Nitro.Reactive"));
    }

    [Test]
    public void A_damaged_header_fails_its_checksum()
    {
        var file = ValidFile();
        file[HeaderLength(file) - 10] ^= 1;

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(0));
        Assert.That(error.Problem, Does.Contain("header checksum"));
    }

    [TestCase(0)]
    [TestCase(5)]
    [TestCase(17)]
    [TestCase(40)]
    public void Truncation_inside_the_header_is_reported_at_offset_0(int length)
    {
        var error = TryReadAll(ValidFile()[..length], new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(0));
        Assert.That(error.Problem, Does.Contain("inside the").Or.Contain("ends after"));
    }

    [Test]
    public void Truncation_inside_a_block_is_reported_at_that_block_after_delivering_the_blocks_before_it()
    {
        var file = ValidFile();
        var blocks = BlockOffsets(file);
        var cut = blocks[3] + 100;

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file[..cut], visitor);

        Assert.That(error!.Offset, Is.EqualTo(blocks[3]));
        Assert.That(error.Problem, Does.Contain("ends"));
        Assert.That(visitor.Fingerprints, Has.Count.EqualTo(RecordsBefore(file, 3)));
    }

    [Test]
    public void A_missing_end_record_is_reported_where_the_next_block_should_start()
    {
        var file = ValidFile();
        var blocks = BlockOffsets(file);
        var last = blocks[^1];

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file[..last], visitor);

        Assert.That(error!.Offset, Is.EqualTo(last));
        Assert.That(error.Problem, Does.Contain("without an end record"));
        Assert.That(visitor.Fingerprints, Has.Count.EqualTo(RecordsBefore(file, blocks.Count - 1)));
    }

    [Test]
    public void A_flipped_payload_byte_fails_the_block_checksum_and_earlier_blocks_are_delivered()
    {
        var file = ValidFile();
        var blocks = BlockOffsets(file);
        file[blocks[2] + 500] ^= 0x10;

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        Assert.That(error!.Offset, Is.EqualTo(blocks[2]));
        Assert.That(error.Problem, Does.Contain("payload checksum mismatch"));
        Assert.That(visitor.Fingerprints, Has.Count.EqualTo(RecordsBefore(file, 2)));
    }

    [Test]
    public void An_absurd_block_length_is_refused_without_allocating_it()
    {
        var file = ValidFile();
        var blocks = BlockOffsets(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(blocks[1]), 0xFFFF_FFF0);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = TryReadAll(file, new CollectingVisitor { KeepObjects = false });
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(error!.Offset, Is.EqualTo(blocks[1]));
        Assert.That(error.Problem, Does.Contain("block length 4294967280"));
        Assert.That(allocated, Is.LessThan(4 << 20));
    }

    [Test]
    public void A_missing_block_is_noticed_by_its_sequence_number()
    {
        var file = ValidFile();
        var blocks = BlockOffsets(file);
        var withoutBlock2 = Concat(file[..blocks[2]], file[blocks[3]..]);

        var error = TryReadAll(withoutBlock2, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(blocks[2]));
        Assert.That(error.Problem, Does.Contain("block number 3 where block 2 was expected"));
    }

    [Test]
    public void Bytes_after_the_end_record_are_reported()
    {
        var file = ValidFile();

        var visitor = new CollectingVisitor();
        var error = TryReadAll(Concat(file, [0, 0, 0]), visitor);

        Assert.That(error!.Offset, Is.EqualTo(file.Length));
        Assert.That(error.Problem, Does.Contain("follow the block that holds the end record"));
        Assert.That(visitor.Events, Has.Count.EqualTo(200));
    }

    [Test]
    public void Bad_utf8_in_a_string_record_is_reported_at_that_record()
    {
        var header = Header();
        var event0 = Record(RecordKind.Event, EventBody(0, withSregs: true));
        var file = Concat(header, Block(0, event0, Record(RecordKind.String, StringBody(0, [0xC3, 0x28]))));

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + event0.Length));
        Assert.That(error.Problem, Does.Contain("not valid UTF-8"));
        Assert.That(visitor.Events, Has.Count.EqualTo(1), "the event before the bad record in the same block was delivered");
    }

    [Test]
    public void A_string_id_out_of_range_is_reported_at_the_syscall_record()
    {
        var header = Header();
        var event0 = Record(RecordKind.Event, EventBody(0, withSregs: true));
        var name = Record(RecordKind.String, StringBody(0, "read"u8));
        var convention = Record(RecordKind.String, StringBody(1, "linux-x64"u8));
        var good = Record(RecordKind.Syscall, SyscallBody(0, 0, 1));
        var bad = Record(RecordKind.Syscall, SyscallBody(0, 7, 1));
        var file = Concat(header, Block(0, event0, name, convention, good, bad));

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + event0.Length + name.Length + convention.Length + good.Length));
        Assert.That(error.Problem, Does.Contain("string id 7 is not defined"));
        Assert.That(visitor.Syscalls.Single().Record.Name, Is.EqualTo("read"));
    }

    [Test]
    public void An_unknown_record_kind_is_reported_at_that_record()
    {
        var header = Header();
        var file = Concat(header, Block(0, Record((RecordKind)9, [1, 2, 3])));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize));
        Assert.That(error.Problem, Does.Contain("unknown record kind 9"));
    }

    [Test]
    public void A_record_length_beyond_its_block_is_reported_without_allocating_it()
    {
        var header = Header();
        var record = Record(RecordKind.String, StringBody(0, "x"u8));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(1), 0x7FFF_FFFF);
        var file = Concat(header, Block(0, record));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize));
        Assert.That(error.Problem, Does.Contain("record length 2147483647 exceeds"));
    }

    [Test]
    public void A_syscall_before_any_event_of_its_vcpu_is_reported()
    {
        var header = Header();
        var name = Record(RecordKind.String, StringBody(0, "linux-x64"u8));
        var file = Concat(header, Block(0, name, Record(RecordKind.Syscall, SyscallBody(0, 0, 0))));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + name.Length));
        Assert.That(error.Problem, Does.Contain("no event before it"));
    }

    [Test]
    public void A_first_event_without_special_registers_is_reported()
    {
        var header = Header();
        var file = Concat(header, Block(0, Record(RecordKind.Event, EventBody(1, withSregs: false))));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize));
        Assert.That(error.Problem, Does.Contain("lacks its special registers"));
    }

    [Test]
    public void The_message_names_the_file_offset_and_what_to_do()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-damaged-{Guid.NewGuid():N}.nitrotrace");
        try
        {
            var file = ValidFile();
            File.WriteAllBytes(path, file[..^10]);
            using var reader = TraceReader.OpenFile(path);

            var error = Assert.ThrowsAsync<TraceFormatException>(async () => await reader.ReadToEndAsync(new CollectingVisitor()));

            Assert.That(error!.FileName, Is.EqualTo(path));
            Assert.That(error.Message, Does.Contain(path).And.Contain($"offset {error.Offset}").And.Contain("re-record"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int RecordsBefore(byte[] file, int blockIndex) =>
        BlockOffsets(file).Take(blockIndex).Sum(at => (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4)));
}
