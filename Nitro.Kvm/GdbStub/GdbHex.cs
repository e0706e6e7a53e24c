using System.Buffers.Binary;

namespace Nitro.Kvm.GdbStub;

/// <summary>Hex digits as the remote protocol writes them (lower case on output, either case on input).</summary>
internal static class GdbHex
{
    public static byte Digit(int value) => (byte)(value < 10 ? '0' + value : 'a' + value - 10);

    /// <summary>Gets the value of a hex digit, or −1.</summary>
    public static int Value(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>Writes <paramref name="value"/> as big-endian hex without leading zeros (at least one digit).</summary>
    public static int WriteNumber(ulong value, Span<byte> destination)
    {
        var digits = value == 0 ? 1 : (64 - (int)ulong.LeadingZeroCount(value) + 3) / 4;
        for (var i = digits - 1; i >= 0; i--)
        {
            destination[i] = Digit((int)(value & 0xF));
            value >>= 4;
        }

        return digits;
    }

    /// <summary>Writes bytes as two hex digits each, in order (the protocol's register and memory encoding).</summary>
    public static int WriteBytes(ReadOnlySpan<byte> bytes, Span<byte> destination)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            destination[2 * i] = Digit(bytes[i] >> 4);
            destination[(2 * i) + 1] = Digit(bytes[i] & 0xF);
        }

        return 2 * bytes.Length;
    }

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> little-endian, as hex.</summary>
    public static int WriteLittleEndian(ulong value, int size, Span<byte> destination)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return WriteBytes(bytes[..Math.Min(size, 8)], destination);
    }

    /// <summary>Decodes pairs of hex digits into bytes. An <c>xx</c> pair (unavailable) becomes 0 and clears <paramref name="complete"/>.</summary>
    /// <returns><see langword="false"/> when the text has an odd length or a non-hex character.</returns>
    public static bool TryDecodeBytes(ReadOnlySpan<byte> hex, Span<byte> destination, out bool complete)
    {
        complete = true;
        if ((hex.Length & 1) != 0 || destination.Length < hex.Length / 2)
        {
            return false;
        }

        for (var i = 0; i < hex.Length / 2; i++)
        {
            var h = hex[2 * i];
            var l = hex[(2 * i) + 1];
            if (h is (byte)'x' && l is (byte)'x')
            {
                destination[i] = 0;
                complete = false;
                continue;
            }

            var hv = Value(h);
            var lv = Value(l);
            if (hv < 0 || lv < 0)
            {
                return false;
            }

            destination[i] = (byte)((hv << 4) | lv);
        }

        return true;
    }

    /// <summary>Parses a big-endian hex number (as in <c>thread:p1.2</c> or <c>W00</c>).</summary>
    public static bool TryParseNumber(ReadOnlySpan<byte> hex, out ulong value)
    {
        value = 0;
        if (hex.IsEmpty || hex.Length > 16)
        {
            return false;
        }

        foreach (var c in hex)
        {
            var v = Value(c);
            if (v < 0)
            {
                return false;
            }

            value = (value << 4) | (uint)v;
        }

        return true;
    }
}
