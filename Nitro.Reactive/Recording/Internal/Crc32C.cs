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
        ulong state = crc;
        while (data.Length >= 32)
        {
            state = Sse42.X64.Crc32(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            state = Sse42.X64.Crc32(state, BinaryPrimitives.ReadUInt64LittleEndian(data[8..]));
            state = Sse42.X64.Crc32(state, BinaryPrimitives.ReadUInt64LittleEndian(data[16..]));
            state = Sse42.X64.Crc32(state, BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
            data = data[32..];
        }

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
