using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;
using CallingConvention = Nitro.Reactive.Syscalls.CallingConvention;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>Deterministic events, syscalls and trace files, plus a builder for hand-made (damaged) files.</summary>
internal static class TraceTestData
{
    public static readonly DateTimeOffset Created = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    public const long Origin = 1_000_000_000;

    public static TraceWriterOptions Options(int blockSize = 256 * 1024) => new()
    {
        Os = "linux",
        Kernel = "6.12.48-amd64",
        Vcpus = 4,
        Source = "unit-test",
        CreatedUtc = Created,
        MonotonicOrigin = Origin,
        BlockSize = blockSize,
        LeaveOpen = true,
    };

    public static Registers RandomRegisters(Random rng)
    {
        Registers r = default;
        rng.NextBytes(Registers.AsBytes(ref r));
        return r;
    }

    public static SpecialRegisters RandomSpecialRegisters(Random rng)
    {
        SpecialRegisters s = default;
        rng.NextBytes(SpecialRegisters.AsBytes(ref s));
        return s;
    }

    /// <summary>Events over <paramref name="vcpus"/> vCPUs, interleaved at random; each vCPU's special registers change now and then.</summary>
    public static List<NitroEvent> Events(int count, int vcpus, int seed, long start = Origin + 5_000, long step = 1_000)
    {
        var rng = new Random(seed);
        var sregs = new SpecialRegisters[vcpus];
        for (var v = 0; v < vcpus; v++)
        {
            sregs[v] = RandomSpecialRegisters(rng);
        }

        var list = new List<NitroEvent>(count);
        for (var i = 0; i < count; i++)
        {
            var vcpu = rng.Next(vcpus);
            if (rng.Next(8) == 0)
            {
                sregs[vcpu] = RandomSpecialRegisters(rng);
            }

            var regs = RandomRegisters(rng);
            list.Add(new NitroEvent(vcpu, (SyscallDirection)rng.Next(2), (SyscallMechanism)rng.Next(2), regs, sregs[vcpu], start + (i * step)));
        }

        return list;
    }

    private static readonly string[] s_names = ["openat", "read", "write", "close", "mmap", "execve"];

    /// <summary>Syscalls with processes, properties and decoded values of every type.</summary>
    public static List<Syscall> Syscalls(int count, int seed)
    {
        var rng = new Random(seed);
        var events = Events(count, 3, seed + 1);
        var list = new List<Syscall>(count);
        for (var i = 0; i < count; i++)
        {
            var e = events[i];
            var name = s_names[rng.Next(s_names.Length)];
            var pid = 100 + rng.Next(4);
            var process = rng.Next(10) == 0
                ? null
                : new Process(pid, $"proc{pid}", rng.Next(2) == 0 ? 1 : null, new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["tgid"] = (long)pid,
                    ["path"] = $"/usr/bin/proc{pid}",
                    ["kernel_thread"] = false,
                });
            var decoded = rng.Next(5) == 0 ? null : new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["fd"] = (long)rng.Next(-5, 100),
                ["flags"] = (ulong)rng.NextInt64(),
                ["filename"] = $"/tmp/file-{rng.Next(1000)}-é",
                ["buf"] = RandomBytes(rng, rng.Next(0, 40)),
                ["argv"] = new[] { "ls", "-l", $"/x{i}" },
                ["ok"] = rng.Next(2) == 0,
                ["nothing"] = null,
                ["bad"] = new Unreadable((ulong)rng.NextInt64(), "not mapped"),
            };
            var convention = e.Mechanism == SyscallMechanism.Syscall ? CallingConvention.LinuxX64 : CallingConvention.LinuxIa32;
            list.Add(new Syscall(e, rng.Next(400), name, "__x64_sys_" + name, process, new ArgumentMap(e, convention, null), rng.Next(3) == 0 ? null : pid + 1000L, decoded));
        }

        return list;
    }

    public static byte[] RandomBytes(Random rng, int count)
    {
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }

    public static byte[] WriteEvents(IEnumerable<NitroEvent> events, int blockSize = 256 * 1024)
    {
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, Options(blockSize)))
        {
            foreach (var e in events)
            {
                writer.WriteEvent(e);
            }
        }

        return stream.ToArray();
    }

    public static byte[] WriteSyscalls(IEnumerable<Syscall> syscalls, int blockSize = 256 * 1024)
    {
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, Options(blockSize)))
        {
            foreach (var s in syscalls)
            {
                writer.WriteSyscall(s);
            }
        }

        return stream.ToArray();
    }

    public static CollectingVisitor ReadAll(byte[] file, out TraceTotals totals)
    {
        var visitor = new CollectingVisitor();
        using var reader = TraceReader.Open(new MemoryStream(file));
        totals = reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
        return visitor;
    }

    /// <summary>Reads until the end or the first error; returns the error (or null) and what was delivered.</summary>
    public static TraceFormatException? TryReadAll(byte[] file, CollectingVisitor visitor)
    {
        using var reader = TraceReader.Open(new MemoryStream(file));
        try
        {
            reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
            return null;
        }
        catch (TraceFormatException ex)
        {
            return ex;
        }
    }

    public static int HeaderLength(byte[] file) => (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));

    /// <summary>The offsets of every block of a well-formed file.</summary>
    public static List<int> BlockOffsets(byte[] file)
    {
        var offsets = new List<int>();
        var at = HeaderLength(file);
        while (at < file.Length)
        {
            offsets.Add(at);
            at += TraceFormat.BlockHeaderSize + (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at));
        }

        return offsets;
    }

    /// <summary>A header-only prefix of a valid trace (the header of an empty trace).</summary>
    public static byte[] Header()
    {
        var empty = WriteEvents([]);
        return empty.AsSpan(0, HeaderLength(empty)).ToArray();
    }

    public static byte[] Record(RecordKind kind, ReadOnlySpan<byte> body)
    {
        var record = new byte[5 + body.Length];
        record[0] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(1), (uint)body.Length);
        body.CopyTo(record.AsSpan(5));
        return record;
    }

    public static byte[] Block(uint sequence, params byte[][] records)
    {
        var payload = records.SelectMany(r => r).ToArray();
        var block = new byte[TraceFormat.BlockHeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(block, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)records.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(8), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(12), Crc32C.Compute(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(16), Crc32C.Compute(block.AsSpan(0, 16)));
        payload.CopyTo(block.AsSpan(TraceFormat.BlockHeaderSize));
        return block;
    }

    public static byte[] EventBody(int vcpu, bool withSregs, long timestamp = Origin)
    {
        var body = new byte[withSregs ? TraceFormat.EventWithSregsSize : TraceFormat.EventFixedSize];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)vcpu);
        body[3] = 1;
        body[4] = withSregs ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(8), timestamp);
        return body;
    }

    public static byte[] StringBody(uint id, ReadOnlySpan<byte> utf8)
    {
        var body = new byte[4 + utf8.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        utf8.CopyTo(body.AsSpan(4));
        return body;
    }

    /// <summary>A syscall body on vCPU 0 whose three names are the given string references (0xFFFFFFFF = inline "x").</summary>
    public static byte[] SyscallBody(uint nameId, uint fullNameId, uint conventionId)
    {
        var body = new List<byte> { 0, 0, 0, 0 };
        body.AddRange(BitConverter.GetBytes(2L));
        foreach (var id in new[] { nameId, fullNameId, conventionId })
        {
            body.AddRange(BitConverter.GetBytes(id));
        }

        body.AddRange([0, 0]);
        return [.. body];
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] RegisterBytes(in Registers r) => MemoryMarshal.AsBytes(new ReadOnlySpan<Registers>(in r)).ToArray();
}

/// <summary>Keeps a fingerprint of every record, the events and the syscall records.</summary>
internal sealed class CollectingVisitor : ITraceVisitor
{
    public List<ulong> Fingerprints { get; } = [];

    public List<NitroEvent> Events { get; } = [];

    public List<bool> SpecialRegistersChanged { get; } = [];

    public List<(NitroEvent Event, TraceSyscallRecord Record)> Syscalls { get; } = [];

    public bool KeepObjects { get; init; } = true;

    public void OnEvent(in TraceEventView e)
    {
        Fingerprints.Add(Fingerprint(e, 0));
        if (KeepObjects)
        {
            Events.Add(e.ToEvent());
            SpecialRegistersChanged.Add(e.SpecialRegistersChanged);
        }
    }

    public void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
    {
        Fingerprints.Add(Fingerprint(e, (ulong)syscall.Number + ((ulong)(uint)syscall.Name.GetHashCode(StringComparison.Ordinal) << 20) + ((ulong)(syscall.Decoded?.Count ?? 0) << 52)));
        if (KeepObjects)
        {
            Syscalls.Add((e.ToEvent(), syscall));
        }
    }

    private static ulong Fingerprint(in TraceEventView e, ulong extra)
    {
        var regs = Crc32C.Compute(MemoryMarshal.AsBytes(new ReadOnlySpan<Registers>(in e.Registers)));
        var sregs = Crc32C.Compute(MemoryMarshal.AsBytes(new ReadOnlySpan<SpecialRegisters>(in e.SpecialRegisters)));
        return (((ulong)regs << 32) | sregs) ^ (ulong)e.Timestamp ^ ((ulong)e.Vcpu << 40) ^ ((ulong)e.Direction << 50) ^ extra * 0x9E3779B97F4A7C15;
    }
}
