using System.Buffers.Binary;
using System.Diagnostics;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Recording.Internal;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>
/// Damages valid traces in 10,000+ seeded ways and checks, for every damaged file, that only
/// <see cref="TraceFormatException"/> escapes, that memory stays bounded, and that what was
/// delivered before the error is a prefix of the intact trace.
/// </summary>
public sealed class TraceMutationTests
{
    private const int Files = 12_000;
    private const long AllocationBound = 64L << 20;

    internal sealed record Template(byte[] File, List<ulong> Records, List<int> Blocks, List<int> RecordsBefore);

    [Test]
    public void Damaged_files_fail_cleanly_with_a_prefix_of_the_intact_records()
    {
        var templates = new[]
        {
            MakeTemplate(WriteEvents(TraceTestData.Events(300, 4, seed: 100), blockSize: 2048)),
            MakeTemplate(WriteSyscalls(TraceTestData.Syscalls(150, seed: 200), blockSize: 1500)),
            MakeTemplate(WriteSyscalls(TraceTestData.Syscalls(60, seed: 300), blockSize: 4096)),
        };
        var failures = new List<string>();
        var kinds = new int[8];
        var clean = 0;
        var stopwatch = Stopwatch.StartNew();

        for (var seed = 0; seed < Files; seed++)
        {
            var rng = new Random(seed);
            var template = templates[seed % templates.Length];
            var kind = rng.Next(8);
            kinds[kind]++;
            var damaged = Mutate(template, kind, rng, out var trustedRecords);
            var visitor = new CollectingVisitor { KeepObjects = false };
            var before = GC.GetAllocatedBytesForCurrentThread();
            Exception? error = null;
            try
            {
                using var reader = TraceReader.Open(new MemoryStream(damaged));
                reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                error = ex;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            var problem = Check(template, visitor.Fingerprints, error, allocated, trustedRecords);
            if (error is null && kind != 7)
            {
                clean++;
            }

            if (problem is not null && failures.Count < 10)
            {
                failures.Add($"seed {seed}, mutation {kind}: {problem} (trusted {trustedRecords}, delivered {visitor.Fingerprints.Count}, error {error?.Message})");
            }
        }

        Assert.That(failures, Is.Empty);
        Assert.That(kinds, Has.All.GreaterThan(Files / 10), "every mutation kind was exercised");
        Assert.That(clean, Is.LessThan(Files / 100), "almost every damage that is not re-sealed must be detected");
        Assert.That(stopwatch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)));
    }

    private static string? Check(Template template, List<ulong> delivered, Exception? error, long allocated, int trustedRecords)
    {
        if (allocated > AllocationBound)
        {
            return $"allocated {allocated} bytes";
        }

        if (error is not null and not TraceFormatException)
        {
            return $"escaped {error.GetType().Name}: {error.Message}";
        }

        if (error is TraceFormatException format && (format.Offset < 0 || format.Offset > template.File.Length + 64))
        {
            return $"offset {format.Offset} outside the file";
        }

        var compare = Math.Min(delivered.Count, trustedRecords);
        if (delivered.Count > template.Records.Count && trustedRecords >= template.Records.Count)
        {
            return $"delivered {delivered.Count} records, the intact trace has {template.Records.Count}";
        }

        for (var i = 0; i < compare; i++)
        {
            if (delivered[i] != template.Records[i])
            {
                return $"record {i} differs from the intact trace";
            }
        }

        if (error is null && trustedRecords >= template.Records.Count && delivered.Count != template.Records.Count)
        {
            return $"read without error but delivered {delivered.Count} of {template.Records.Count} records";
        }

        return null;
    }

    internal static byte[] Mutate(Template template, int kind, Random rng, out int trustedRecords)
    {
        var file = template.File;
        trustedRecords = int.MaxValue;
        switch (kind)
        {
            case 0: // truncate anywhere
                return file[..rng.Next(file.Length)];
            case 1: // flip 1-8 random bytes
                {
                    var copy = (byte[])file.Clone();
                    for (var n = rng.Next(1, 9); n > 0; n--)
                    {
                        copy[rng.Next(copy.Length)] ^= (byte)rng.Next(1, 256);
                    }

                    return copy;
                }

            case 2: // insert 1-16 random bytes
                {
                    var at = rng.Next(file.Length + 1);
                    return Concat(file[..at], RandomBytes(rng, rng.Next(1, 17)), file[at..]);
                }

            case 3: // delete 1-16 bytes
                {
                    var at = rng.Next(file.Length);
                    return Concat(file[..at], file[Math.Min(file.Length, at + rng.Next(1, 17))..]);
                }

            case 4: // overwrite a length or count field (or any 4 bytes) with a huge value
                return OverwriteLength(template, rng);
            case 5: // zero a range
                {
                    var copy = (byte[])file.Clone();
                    var at = rng.Next(copy.Length);
                    copy.AsSpan(at, Math.Min(copy.Length - at, rng.Next(1, 65))).Clear();
                    return copy;
                }

            case 6: // two damages at once
                {
                    var once = new Template(Mutate(template, rng.Next(1, 6), rng, out _), template.Records, template.Blocks, template.RecordsBefore);
                    return once.File.Length < 64 ? once.File : Mutate(once, rng.Next(1, 6), rng, out _);
                }

            default: // damage inside a block and re-seal its checksums: structure checks alone must hold
                return DamageAndReseal(template, rng, out trustedRecords);
        }
    }

    private static byte[] OverwriteLength(Template template, Random rng)
    {
        var copy = (byte[])template.File.Clone();
        var choice = rng.Next(4);
        var at = choice switch
        {
            0 => 12,
            1 => template.Blocks[rng.Next(template.Blocks.Count)],
            2 => template.Blocks[rng.Next(template.Blocks.Count)] + 4,
            _ => rng.Next(copy.Length - 4),
        };
        uint[] huge = [0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, TraceFormat.MaxBlockPayload + 1, (uint)rng.Next()];
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), huge[rng.Next(huge.Length)]);
        return copy;
    }

    private static byte[] DamageAndReseal(Template template, Random rng, out int trustedRecords)
    {
        var copy = (byte[])template.File.Clone();
        var index = rng.Next(template.Blocks.Count);
        var start = template.Blocks[index];
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(copy.AsSpan(start));
        var payload = copy.AsSpan(start + TraceFormat.BlockHeaderSize, length);
        for (var n = rng.Next(1, 4); n > 0; n--)
        {
            var at = rng.Next(payload.Length);
            if (rng.Next(2) == 0 && at + 4 <= payload.Length)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(payload[at..], rng.Next(3) == 0 ? 0xFFFF_FFFF : (uint)rng.Next(0, 2000));
            }
            else
            {
                payload[at] ^= (byte)rng.Next(1, 256);
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(start + 12), Crc32C.Compute(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(start + 16), Crc32C.Compute(copy.AsSpan(start, 16)));
        trustedRecords = template.RecordsBefore[index];
        return copy;
    }

    internal static Template MakeTemplate(byte[] file)
    {
        var visitor = new CollectingVisitor { KeepObjects = false };
        var before = new List<int>();
        using (var reader = TraceReader.Open(new MemoryStream(file)))
        {
            do
            {
                before.Add(visitor.Fingerprints.Count);
            }
            while (reader.ReadBlockAsync(visitor).AsTask().GetAwaiter().GetResult());
        }

        var blocks = BlockOffsets(file);
        Assert.That(blocks, Has.Count.GreaterThan(3));
        Assert.That(before, Has.Count.EqualTo(blocks.Count));
        return new Template(file, visitor.Fingerprints, blocks, before);
    }
}
