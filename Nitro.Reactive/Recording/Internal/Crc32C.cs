using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as used by iSCSI and ext4:
/// initial value and final XOR 0xFFFFFFFF. Uses the SSE 4.2 <c>crc32</c> instruction when the
/// processor has it, and a slicing-by-8 table otherwise; both give the same result.
/// </summary>
internal static class Crc32C
{
    private const uint Polynomial = 0x82F63B78;

    private static readonly uint[] s_table = BuildTable();

    /// <summary>Gets whether the hardware path is used.</summary>
    public static bool IsHardwareAccelerated => Sse42.X64.IsSupported;

    public static uint Compute(ReadOnlySpan<byte> data) =>
        Sse42.X64.IsSupported ? ~UpdateHardware(0xFFFFFFFF, data) : ~UpdateSoftware(0xFFFFFFFF, data);

    public static uint ComputeSoftware(ReadOnlySpan<byte> data) => ~UpdateSoftware(0xFFFFFFFF, data);

    public static uint ComputeHardware(ReadOnlySpan<byte> data)
    {
        if (!Sse42.X64.IsSupported)
        {
            throw new PlatformNotSupportedException("This processor has no SSE 4.2 crc32 instruction.");
        }

        return ~UpdateHardware(0xFFFFFFFF, data);
    }

    private static uint UpdateHardware(uint crc, ReadOnlySpan<byte> data)
    {
        // crc32 has a latency of 3 cycles and a throughput of 1: three independent streams over
        // thirds of the buffer keep the unit busy; their states are then joined algebraically.
        if (data.Length >= InterleaveThreshold)
        {
            var third = data.Length / 3 & ~7;
            ulong a = crc, b = 0, c = 0;
            var first = data[..third];
            var second = data.Slice(third, third);
            var last = data.Slice(2 * third, third);
            for (var i = 0; i < third; i += 8)
            {
                a = Sse42.X64.Crc32(a, BinaryPrimitives.ReadUInt64LittleEndian(first[i..]));
                b = Sse42.X64.Crc32(b, BinaryPrimitives.ReadUInt64LittleEndian(second[i..]));
                c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(last[i..]));
            }

            var shift = ShiftFor(third);
            crc = MultiplyModP(MultiplyModP((uint)a, shift) ^ (uint)b, shift) ^ (uint)c;
            data = data[(3 * third)..];
        }

        ulong state = crc;
        while (data.Length >= 8)
        {
            state = Sse42.X64.Crc32(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        var small = (uint)state;
        foreach (var b in data)
        {
            small = Sse42.Crc32(small, b);
        }

        return small;
    }

    private const int InterleaveThreshold = 384;

    private static readonly uint[] s_powers = BuildPowers();

    /// <summary>x^(8·length) mod P: multiplying a CRC state by it appends <paramref name="length"/> zero bytes.</summary>
    private static uint ShiftFor(int length)
    {
        var result = 1u << 31;
        var k = 3;
        for (var n = (uint)length; n != 0; n >>= 1, k++)
        {
            if ((n & 1) != 0)
            {
                result = MultiplyModP(s_powers[k & 31], result);
            }
        }

        return result;
    }

    /// <summary>Multiplies two polynomials modulo P in the reflected bit order CRC-32C uses.</summary>
    internal static uint MultiplyModP(uint a, uint b)
    {
        var product = 0u;
        for (var m = 1u << 31; m != 0; m >>= 1)
        {
            if ((a & m) != 0)
            {
                product ^= b;
            }

            b = (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;
        }

        return product;
    }

    private static uint[] BuildPowers()
    {
        var powers = new uint[32];
        powers[0] = 1u << 30;
        for (var i = 1; i < powers.Length; i++)
        {
            powers[i] = MultiplyModP(powers[i - 1], powers[i - 1]);
        }

        return powers;
    }

    private static uint UpdateSoftware(uint crc, ReadOnlySpan<byte> data)
    {
        var table = s_table;
        while (data.Length >= 8)
        {
            var low = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ crc;
            var high = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            crc = table[(7 * 256) + (low & 0xFF)]
                ^ table[(6 * 256) + ((low >> 8) & 0xFF)]
                ^ table[(5 * 256) + ((low >> 16) & 0xFF)]
                ^ table[(4 * 256) + (low >> 24)]
                ^ table[(3 * 256) + (high & 0xFF)]
                ^ table[(2 * 256) + ((high >> 8) & 0xFF)]
                ^ table[256 + ((high >> 16) & 0xFF)]
                ^ table[high >> 24];
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            var crc = i;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ Polynomial : crc >> 1;
            }

            table[i] = crc;
        }

        for (var slice = 1; slice < 8; slice++)
        {
            for (var i = 0; i < 256; i++)
            {
                var previous = table[((slice - 1) * 256) + i];
                table[(slice * 256) + i] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }

        return table;
    }
}
