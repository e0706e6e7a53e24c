using System.Buffers;
using System.Text;
using Nitro.Kvm.GdbStub;

namespace Nitro.Kvm.Tests.GdbStub;

public sealed class GdbFramingTests
{
    [Test]
    public void Encode_frames_data_with_a_mod_256_checksum()
    {
        Assert.That(Encode("OK"), Is.EqualTo("$OK#9a"));
        Assert.That(Encode(string.Empty), Is.EqualTo("$#00"));
        // 'g' = 0x67; 300 bytes of 'z' (0x7a) wrap the sum past 256 several times.
        var longData = new string('z', 300);
        Assert.That(Encode(longData), Is.EqualTo("$" + longData + "#" + ((300 * 0x7a) & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Encode_escapes_hash_dollar_brace_and_star_and_sums_the_escaped_bytes()
    {
        var framed = Encode("a#b$c}d*e");
        Assert.That(framed[..^3], Is.EqualTo("$a}\u0003b}\u0004c}]d}\ne"));
        Assert.That(framed[^2..], Is.EqualTo(FakeGdbStub.Checksum(framed[1..^3])));
        Assert.That(ReadAll(framed), Is.EqualTo(new[] { (GdbFrameKind.Packet, "a#b$c}d*e") }));
    }

    [Test]
    public void Run_length_encoding_repeats_the_previous_byte_count_minus_29_times()
    {
        // ' ' is 32: three more '0's. '#' would be 35 and is never used as a count; '"' is 34: five more.
        Assert.That(ReadAll(FakeGdbStub.Frame("0* 1*\"x")), Is.EqualTo(new[] { (GdbFrameKind.Packet, "0000111111x") }));
    }

    [Test]
    public void Run_length_expansion_may_outgrow_the_raw_packet_many_times()
    {
        // '~' is 126: 97 more copies each time; 20 runs of 98 bytes from 60 raw bytes.
        var raw = string.Concat(Enumerable.Repeat("a*~", 20));
        Assert.That(ReadAll(FakeGdbStub.Frame(raw)), Is.EqualTo(new[] { (GdbFrameKind.Packet, new string('a', 20 * 98)) }));
    }

    [Test]
    public void Run_length_count_applies_to_an_escaped_byte()
    {
        Assert.That(ReadAll(FakeGdbStub.Frame("}\u0003* ")), Is.EqualTo(new[] { (GdbFrameKind.Packet, "####") }));
    }

    [Test]
    public void Acks_nacks_and_notifications_are_recognized_and_line_noise_is_skipped()
    {
        var frames = ReadAll("\r\n\u0003++-noise" + FakeGdbStub.Frame("T05") + "%" + "Stop:T05#" + FakeGdbStub.Checksum("Stop:T05"));
        Assert.That(frames, Is.EqualTo(new[]
        {
            (GdbFrameKind.Ack, string.Empty),
            (GdbFrameKind.Ack, string.Empty),
            (GdbFrameKind.Nack, string.Empty),
            (GdbFrameKind.Packet, "T05"),
            (GdbFrameKind.Notification, "Stop:T05"),
        }));
    }

    [Test]
    public void A_wrong_checksum_is_reported_and_consumed()
    {
        Assert.That(ReadAll("$OK#00" + FakeGdbStub.Frame("OK")), Is.EqualTo(new[] { (GdbFrameKind.BadChecksum, string.Empty), (GdbFrameKind.Packet, "OK") }));
    }

    [Test]
    public void A_partial_packet_needs_more_input_and_is_not_consumed()
    {
        var framed = Encoding.Latin1.GetBytes(FakeGdbStub.Frame("T05thread:p01.02;"));
        var payload = new ArrayBufferWriter<byte>();
        for (var length = 1; length < framed.Length; length++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(framed, 0, length));
            Assert.That(GdbFraming.TryReadFrame(ref reader, payload, 1024, out _), Is.False, $"prefix of {length} bytes");
            Assert.That(reader.Consumed, Is.Zero);
        }

        var whole = new SequenceReader<byte>(new ReadOnlySequence<byte>(framed));
        Assert.That(GdbFraming.TryReadFrame(ref whole, payload, 1024, out var kind), Is.True);
        Assert.That(kind, Is.EqualTo(GdbFrameKind.Packet));
        Assert.That(whole.Consumed, Is.EqualTo(framed.Length));
    }

    [Test]
    public void A_packet_split_across_segments_anywhere_decodes_the_same()
    {
        var framed = Encoding.Latin1.GetBytes(FakeGdbStub.Frame("ab}]c*\"d") + FakeGdbStub.Frame("OK"));
        for (var split = 1; split < framed.Length; split++)
        {
            var sequence = Segments(framed[..split], framed[split..]);
            var reader = new SequenceReader<byte>(sequence);
            var payload = new ArrayBufferWriter<byte>();
            Assert.That(GdbFraming.TryReadFrame(ref reader, payload, 1024, out var kind), Is.True);
            Assert.That((kind, Encoding.Latin1.GetString(payload.WrittenSpan)), Is.EqualTo((GdbFrameKind.Packet, "ab}ccccccd")), $"split at {split}");
        }
    }

    [Test]
    public void A_packet_longer_than_the_bound_fails_cleanly()
    {
        Assert.Throws<GdbFramingException>(() => ReadOne("$" + new string('a', 100), 64));
        var error = Assert.Throws<GdbFramingException>(() => ReadOne(FakeGdbStub.Frame(new string('a', 65)), 64));
        Assert.That(error!.Message, Does.Contain("64"));
    }

    [TestCase("$OK#zz")]
    [TestCase("$*!#")]
    [TestCase("$ab}#")]
    public void Malformed_packets_fail_cleanly(string raw)
    {
        Assert.Throws<GdbFramingException>(() => ReadOne(raw.EndsWith('#') ? raw + FakeGdbStub.Checksum(raw[1..^1]) : raw, 1024));
    }

    private static bool ReadOne(string raw, int maxPacketSize)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(raw)));
        return GdbFraming.TryReadFrame(ref reader, new ArrayBufferWriter<byte>(), maxPacketSize, out _);
    }

    private static string Encode(string data)
    {
        var bytes = Encoding.Latin1.GetBytes(data);
        var destination = new byte[GdbFraming.GetMaxFrameLength(bytes.Length)];
        var n = GdbFraming.Encode(bytes, destination);
        return Encoding.Latin1.GetString(destination, 0, n);
    }

    private static List<(GdbFrameKind Kind, string Payload)> ReadAll(string raw)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(raw)));
        var payload = new ArrayBufferWriter<byte>();
        var frames = new List<(GdbFrameKind, string)>();
        while (GdbFraming.TryReadFrame(ref reader, payload, 1024, out var kind))
        {
            frames.Add((kind, Encoding.Latin1.GetString(payload.WrittenSpan)));
            payload.Clear();
        }

        Assert.That(reader.Remaining, Is.Zero, "everything consumed");
        return frames;
    }

    private static ReadOnlySequence<byte> Segments(byte[] first, byte[] second)
    {
        var head = new Segment(first, 0);
        var tail = head.Append(second);
        return new ReadOnlySequence<byte>(head, 0, tail, second.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
