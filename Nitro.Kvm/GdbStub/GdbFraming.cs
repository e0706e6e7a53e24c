using System.Buffers;

namespace Nitro.Kvm.GdbStub;

/// <summary>What <see cref="GdbFraming.TryReadFrame"/> found on the wire.</summary>
internal enum GdbFrameKind
{
    /// <summary><c>+</c>: the peer received our last packet.</summary>
    Ack,

    /// <summary><c>-</c>: the peer wants our last packet again.</summary>
    Nack,

    /// <summary><c>$data#cs</c> with a correct checksum; the payload was decoded.</summary>
    Packet,

    /// <summary><c>%data#cs</c> with a correct checksum; the payload was decoded.</summary>
    Notification,

    /// <summary>A packet or notification whose checksum did not match; nothing was decoded.</summary>
    BadChecksum,
}

/// <summary>
/// The GDB Remote Serial Protocol framing: <c>$data#cs</c> packets with a mod-256 checksum in two
/// hex digits, <c>}</c> escapes (next byte XOR 0x20) and run-length encoding (<c>X*n</c>: the byte
/// before <c>*</c> repeated <c>n − 29</c> more times), <c>+</c>/<c>-</c> acknowledgements and
/// <c>%</c> notifications. Pure functions over bytes.
/// </summary>
internal static class GdbFraming
{
    /// <summary>The interrupt byte (Ctrl-C) sent outside any packet.</summary>
    public const byte Interrupt = 0x03;

    /// <summary>The default bound on the raw length of one packet.</summary>
    public const int DefaultMaxPacketSize = 1 << 20;

    private const byte Escape = (byte)'}';

    /// <summary>Gets the largest framed length of <paramref name="dataLength"/> bytes of data (all escaped).</summary>
    /// <param name="dataLength">The payload length.</param>
    /// <returns>The worst-case frame length.</returns>
    public static int GetMaxFrameLength(int dataLength) => (2 * dataLength) + 4;

    /// <summary>Frames <paramref name="data"/> as <c>$data#cs</c>, escaping <c>#</c>, <c>$</c>, <c>}</c> and <c>*</c>.</summary>
    /// <param name="data">The payload.</param>
    /// <param name="destination">At least <see cref="GetMaxFrameLength"/> bytes.</param>
    /// <returns>The number of bytes written.</returns>
    public static int Encode(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var n = 0;
        destination[n++] = (byte)'$';
        byte sum = 0;
        foreach (var b in data)
        {
            if (b is (byte)'#' or (byte)'$' or Escape or (byte)'*')
            {
                destination[n++] = Escape;
                var escaped = (byte)(b ^ 0x20);
                destination[n++] = escaped;
                sum = (byte)(sum + Escape + escaped);
            }
            else
            {
                destination[n++] = b;
                sum = (byte)(sum + b);
            }
        }

        destination[n++] = (byte)'#';
        destination[n++] = GdbHex.Digit(sum >> 4);
        destination[n++] = GdbHex.Digit(sum & 0xF);
        return n;
    }

    /// <summary>
    /// Reads the next frame: skips bytes that start no frame (line noise, stray interrupt bytes),
    /// then returns an ack, a nack, or a whole packet decoded into <paramref name="payload"/>.
    /// </summary>
    /// <param name="reader">The input; advanced past the frame (and skipped bytes) on success, past skipped bytes only when more input is needed.</param>
    /// <param name="payload">Receives the decoded payload of packets and notifications (appended).</param>
    /// <param name="maxPacketSize">The bound on the raw length between <c>$</c> and <c>#</c>.</param>
    /// <param name="kind">What was read.</param>
    /// <returns><see langword="false"/> when more input is needed.</returns>
    /// <exception cref="GdbFramingException">A packet is longer than <paramref name="maxPacketSize"/>, its checksum is not hex, or its run-length encoding is invalid.</exception>
    public static bool TryReadFrame(ref SequenceReader<byte> reader, ArrayBufferWriter<byte> payload, int maxPacketSize, out GdbFrameKind kind)
    {
        kind = default;
        while (reader.TryPeek(out var first))
        {
            switch (first)
            {
                case (byte)'+':
                    reader.Advance(1);
                    kind = GdbFrameKind.Ack;
                    return true;
                case (byte)'-':
                    reader.Advance(1);
                    kind = GdbFrameKind.Nack;
                    return true;
                case (byte)'$':
                case (byte)'%':
                    return TryReadPacket(ref reader, payload, maxPacketSize, out kind);
                default:
                    reader.Advance(1);
                    break;
            }
        }

        return false;
    }

    private static bool TryReadPacket(ref SequenceReader<byte> reader, ArrayBufferWriter<byte> payload, int maxPacketSize, out GdbFrameKind kind)
    {
        kind = default;
        var probe = reader;
        probe.TryRead(out var start);
        if (!probe.TryReadTo(out ReadOnlySequence<byte> body, (byte)'#', advancePastDelimiter: true))
        {
            if (probe.Remaining > maxPacketSize)
            {
                throw new GdbFramingException($"A packet is longer than {maxPacketSize} bytes without its '#' terminator; the stream is not GDB remote protocol or is corrupt.");
            }

            return false;
        }

        if (body.Length > maxPacketSize)
        {
            throw new GdbFramingException($"A packet of {body.Length} bytes exceeds the bound of {maxPacketSize} bytes.");
        }

        if (!probe.TryRead(out var high) || !probe.TryRead(out var low))
        {
            return false;
        }

        var hi = GdbHex.Value(high);
        var lo = GdbHex.Value(low);
        if (hi < 0 || lo < 0)
        {
            throw new GdbFramingException($"The checksum '{(char)high}{(char)low}' of a packet is not two hex digits.");
        }

        reader = probe;
        if (Checksum(body) != ((hi << 4) | lo))
        {
            kind = GdbFrameKind.BadChecksum;
            return true;
        }

        Decode(body, payload);
        kind = start == (byte)'%' ? GdbFrameKind.Notification : GdbFrameKind.Packet;
        return true;
    }

    /// <summary>Computes the mod-256 sum of the raw packet bytes.</summary>
    /// <param name="body">The bytes between <c>$</c> and <c>#</c>.</param>
    /// <returns>The checksum.</returns>
    public static int Checksum(in ReadOnlySequence<byte> body)
    {
        var sum = 0;
        foreach (var segment in body)
        {
            foreach (var b in segment.Span)
            {
                sum += b;
            }
        }

        return sum & 0xFF;
    }

    private static void Decode(in ReadOnlySequence<byte> body, ArrayBufferWriter<byte> payload)
    {
        var decoder = new Decoder(payload, (int)body.Length);
        foreach (var segment in body)
        {
            decoder.Feed(segment.Span);
        }

        decoder.Finish();
    }

    /// <summary>Undoes escapes and run-length encoding; state carries across segments.</summary>
    private ref struct Decoder
    {
        private readonly ArrayBufferWriter<byte> _payload;
        private Span<byte> _span;
        private int _n;
        private bool _escaped;
        private bool _rle;
        private bool _any;
        private byte _last;

        public Decoder(ArrayBufferWriter<byte> payload, int sizeHint)
        {
            _payload = payload;
            _span = payload.GetSpan(sizeHint);
        }

        public void Feed(ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (!_rle && !_escaped)
                {
                    // Copy the plain run up to the next escape or run-length marker in one go.
                    var run = bytes.IndexOfAny(Escape, (byte)'*');
                    var plain = run < 0 ? bytes : bytes[..run];
                    if (!plain.IsEmpty)
                    {
                        Put(plain);
                        bytes = bytes[plain.Length..];
                        continue;
                    }
                }

                var b = bytes[0];
                bytes = bytes[1..];
                if (_rle)
                {
                    _rle = false;
                    var repeat = b - 29;
                    if (!_any || repeat < 0)
                    {
                        throw new GdbFramingException($"Invalid run-length count byte 0x{b:x2} in a packet.");
                    }

                    PutRepeated(_last, repeat);
                }
                else if (_escaped)
                {
                    _escaped = false;
                    PutRepeated((byte)(b ^ 0x20), 1);
                }
                else
                {
                    _escaped = b == Escape;
                    _rle = !_escaped;
                }
            }
        }

        public readonly void Finish()
        {
            if (_escaped || _rle)
            {
                throw new GdbFramingException("A packet ends inside an escape or a run-length sequence.");
            }

            _payload.Advance(_n);
        }

        private void Put(scoped ReadOnlySpan<byte> bytes)
        {
            Reserve(bytes.Length);
            bytes.CopyTo(_span[_n..]);
            _n += bytes.Length;
            _last = bytes[^1];
            _any = true;
        }

        private void PutRepeated(byte value, int count)
        {
            if (count == 0)
            {
                return;
            }

            Reserve(count);
            _span.Slice(_n, count).Fill(value);
            _n += count;
            _last = value;
            _any = true;
        }

        private void Reserve(int length)
        {
            if (_n + length > _span.Length)
            {
                _payload.Advance(_n);
                _span = _payload.GetSpan(length + 256);
                _n = 0;
            }
        }
    }
}

/// <summary>The byte stream is not valid GDB remote protocol (oversized packet, bad checksum digits, bad run-length encoding).</summary>
internal sealed class GdbFramingException(string message) : Exception(message);
