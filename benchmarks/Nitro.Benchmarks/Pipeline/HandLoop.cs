using System.Buffers.Binary;
using Nitro.Reactive.Recording.Internal;

namespace Nitro.Benchmarks.Pipeline;

/// <summary>
/// The yardstick for the replay rows: what a user would write without the SDK to count the
/// calls with given numbers in a trace file. It reads the file block by block into one reused
/// buffer, checks the header's and every block's CRC-32C (both the block header's and the
/// payload's), walks the records and counts syscall records whose number is in the set.
/// </summary>
/// <remarks>
/// Tight on purpose: the CRC is the SDK's own hardware routine (SSE 4.2 <c>crc32</c>, three
/// interleaved streams), since a slower one would flatter the SDK; the file is read with no
/// buffering of its own (the payload goes straight into the reused array), and nothing but the
/// number of each syscall record is parsed. It checks what cheap checks a careful user would
/// (lengths within the block, the block sequence, the end record) and throws on damage.
/// </remarks>
internal static class HandLoop
{
    private const int BlockHeaderSize = 20;
    private const byte SyscallKind = 2;
    private const byte EndKind = 4;

    public static long CountSyscalls(string path, long first, long second)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        Span<byte> head = stackalloc byte[BlockHeaderSize];
        file.ReadExactly(head[..16]);
        var headerLength = BinaryPrimitives.ReadInt32LittleEndian(head[12..]);
        var header = new byte[headerLength];
        head[..16].CopyTo(header);
        file.ReadExactly(header.AsSpan(16));
        Check(Crc32C.Compute(header.AsSpan(0, headerLength - 4)) == BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(headerLength - 4)), "header checksum");

        var payload = new byte[1 << 20];
        long count = 0;
        uint sequence = 0;
        while (true)
        {
            file.ReadExactly(head);
            var length = BinaryPrimitives.ReadInt32LittleEndian(head);
            Check(Crc32C.Compute(head[..16]) == BinaryPrimitives.ReadUInt32LittleEndian(head[16..]), "block header checksum");
            Check(length > 0 && length <= payload.Length && BinaryPrimitives.ReadUInt32LittleEndian(head[8..]) == sequence++, "block header");
            var block = payload.AsSpan(0, length);
            file.ReadExactly(block);
            Check(Crc32C.Compute(block) == BinaryPrimitives.ReadUInt32LittleEndian(head[12..]), "block checksum");

            var position = 0;
            while (position < block.Length)
            {
                var kind = block[position];
                var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(block[(position + 1)..]);
                var body = block.Slice(position + 5, bodyLength);
                if (kind == SyscallKind)
                {
                    // u16 vcpu, u8 flags, u8 0, i64 number …
                    var number = BinaryPrimitives.ReadInt64LittleEndian(body[4..]);
                    if (number == first || number == second)
                    {
                        count++;
                    }
                }
                else if (kind == EndKind)
                {
                    return count;
                }

                position += 5 + bodyLength;
            }
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidDataException($"hand loop: bad {what}");
        }
    }
}
