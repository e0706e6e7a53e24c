using System.Buffers.Binary;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using static Nitro.Reactive.Tests.Recording.TraceTestData;
using CallingConvention = Nitro.Reactive.Syscalls.CallingConvention;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>Format 2's map and process tables: decoded maps and processes written once and named by id, and what a reader refuses.</summary>
public sealed class TraceMapTableTests
{
    [Test]
    public async Task Repeated_decoded_maps_are_written_once_and_replayed_as_one_shared_object()
    {
        var maps = new[]
        {
            Map(("fd", 3L), ("count", 4096UL)),
            Map(("filename", "/etc/passwd"), ("flags", 0x80000L), ("ok", true), ("bad", new Unreadable(0x1000, "not mapped"))),
            Map(("fd", 4L), ("count", 4096UL)),
        };
        var calls = CallsWith(300, i => maps[i % 3]);

        var file = WriteSyscalls(calls, blockSize: 4096);
        var replayed = await TraceReplay.Syscalls(new MemoryStream(file)).ToList();

        Assert.That(RecordKinds(file).Count(k => k == RecordKind.Map), Is.EqualTo(3));
        Assert.That(replayed, Has.Count.EqualTo(calls.Count));
        for (var i = 0; i < replayed.Count; i++)
        {
            Assert.That(replayed[i].Decoded, Is.EquivalentTo(calls[i].Decoded), $"call {i}");
            Assert.That(replayed[i].Decoded, Is.SameAs(replayed[i % 3].Decoded), $"call {i} shares the map of call {i % 3}");
        }
    }

    [Test]
    public async Task Maps_with_arrays_large_maps_and_empty_maps_stay_in_their_records()
    {
        var large = Map(("filename", new string('p', 300)));
        var withArray = Map(("buf", new byte[] { 1, 2, 3 }), ("fd", 3L));
        var empty = Map();
        var calls = CallsWith(60, i => (i % 3) switch { 0 => large, 1 => withArray, _ => empty });

        var file = WriteSyscalls(calls);
        var replayed = await TraceReplay.Syscalls(new MemoryStream(file)).ToList();

        Assert.That(RecordKinds(file), Does.Not.Contain(RecordKind.Map));
        Assert.That(replayed[1].Decoded["buf"], Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(replayed[4].Decoded["buf"], Is.Not.SameAs(replayed[1].Decoded["buf"]), "arrays are never shared between calls");
        Assert.That(replayed[0].Decoded["filename"], Is.EqualTo(new string('p', 300)));
        Assert.That(replayed[2].Decoded, Is.Empty);
    }

    [Test]
    public void A_map_record_in_a_version_1_file_is_an_unknown_record_kind()
    {
        var (header, records) = MinimalFile(version: 1);
        var map = Record(RecordKind.Map, MapBody(0, fd: 3));
        var file = Concat(header, Block(0, [.. records, map]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain("unknown record kind 5"));
        Assert.That(error.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + records.Sum(r => r.Length)));
    }

    [Test]
    public void A_map_id_in_a_version_1_file_is_an_unknown_syscall_flag()
    {
        var (header, records) = MinimalFile(version: 1);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Syscall, SyscallBodyWithMapId(0))]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain("unknown flags 0x08"));
    }

    [Test]
    public void A_version_1_file_still_reads()
    {
        var (header, records) = MinimalFile(version: 1);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Syscall, SyscallBody(0, 0, 1))]));

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        // No end record in this hand-made file: everything before the missing end is delivered.
        Assert.That(error!.Problem, Does.Contain("truncated").Or.Contain("end record"));
        Assert.That(visitor.Syscalls.Single().Record.Name, Is.EqualTo("x"));
    }

    [Test]
    public void A_syscall_naming_an_undefined_map_is_damage_at_that_record()
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var map = Record(RecordKind.Map, MapBody(0, fd: 3));
        var good = Record(RecordKind.Syscall, SyscallBodyWithMapId(0));
        var bad = Record(RecordKind.Syscall, SyscallBodyWithMapId(1));
        var file = Concat(header, Block(0, [.. records, map, good, bad]));

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        Assert.That(error!.Problem, Does.Contain("names map 1, which no map record before it defines"));
        Assert.That(error.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + records.Sum(r => r.Length) + map.Length + good.Length));
        Assert.That(visitor.Syscalls.Single().Record.Decoded!["fd"], Is.EqualTo(3L));
    }

    [TestCase(1u, "map id 1 is out of order (expected 0")]
    [TestCase(0u, "holds an array")]
    public void A_map_record_out_of_order_or_holding_an_array_is_damage(uint id, string problem)
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var body = problem.Contains("array", StringComparison.Ordinal) ? MapBodyWithBytes(id) : MapBody(id, fd: 3);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Map, body)]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain(problem));
    }

    [Test]
    public void A_map_record_with_bytes_after_its_last_entry_is_damage()
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Map, [.. MapBody(0, fd: 3), 0x55])]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain("bytes left over"));
    }

    [Test]
    public async Task Repeated_processes_are_written_once_and_replayed_as_one_shared_object()
    {
        var processes = new[]
        {
            new Process(100, "bash", 1, Map(("tgid", 100L), ("path", "/usr/bin/bash"))),
            new Process(101, "cat", null, Map(("tgid", 101L))),
            new Process(102, "ls", 100, null),
        };
        var calls = CallsWith(240, _ => Map(("fd", 3L)), i => processes[i % 3]);

        var file = WriteSyscalls(calls, blockSize: 4096);
        var replayed = await TraceReplay.Syscalls(new MemoryStream(file)).ToList();

        Assert.That(RecordKinds(file).Count(k => k == RecordKind.Process), Is.EqualTo(3));
        for (var i = 0; i < replayed.Count; i++)
        {
            var expected = processes[i % 3];
            var process = replayed[i].Process!;
            Assert.That((process.Pid, process.Name, process.ParentPid), Is.EqualTo((expected.Pid, expected.Name, expected.ParentPid)), $"call {i}");
            Assert.That(process.Properties, Is.EquivalentTo(expected.Properties), $"call {i}");
            Assert.That(process, Is.SameAs(replayed[i % 3].Process), $"call {i} shares the process of call {i % 3}");
        }
    }

    [Test]
    public async Task A_process_with_an_array_property_stays_in_its_records()
    {
        var process = new Process(100, "bash", 1, Map(("argv", new[] { "bash", "-c" })));
        var calls = CallsWith(20, _ => Map(("fd", 3L)), _ => process);

        var file = WriteSyscalls(calls);
        var replayed = await TraceReplay.Syscalls(new MemoryStream(file)).ToList();

        Assert.That(RecordKinds(file), Does.Not.Contain(RecordKind.Process));
        Assert.That(replayed.Select(c => c.Process!.Properties["argv"]), Has.All.EqualTo(new[] { "bash", "-c" }));
    }

    [Test]
    public void A_process_record_in_a_version_1_file_is_an_unknown_record_kind()
    {
        var (header, records) = MinimalFile(version: 1);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Process, ProcessBody(0, flags: 0))]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain("unknown record kind 6"));
    }

    [Test]
    public void A_syscall_naming_an_undefined_process_is_damage_at_that_record()
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var process = Record(RecordKind.Process, ProcessBody(0, flags: 0));
        var good = Record(RecordKind.Syscall, SyscallBodyWithProcessId(0, flags: 2 | 16));
        var bad = Record(RecordKind.Syscall, SyscallBodyWithProcessId(1, flags: 2 | 16));
        var file = Concat(header, Block(0, [.. records, process, good, bad]));

        var visitor = new CollectingVisitor();
        var error = TryReadAll(file, visitor);

        Assert.That(error!.Problem, Does.Contain("names process 1, which no process record before it defines"));
        Assert.That(error.Offset, Is.EqualTo(header.Length + TraceFormat.BlockHeaderSize + records.Sum(r => r.Length) + process.Length + good.Length));
        Assert.That(visitor.Syscalls.Single().Record.Process!.Pid, Is.EqualTo(77));
    }

    [TestCase(16, "flags 0x10: a process id (16) comes with the process flag (2) and without the parent-pid flag (4)")]
    [TestCase(2 | 4 | 16, "flags 0x16: a process id")]
    public void A_process_id_without_the_process_flag_or_with_a_parent_pid_is_damage(int flags, string problem)
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Process, ProcessBody(0, flags: 0)), Record(RecordKind.Syscall, SyscallBodyWithProcessId(0, (byte)flags))]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain(problem));
    }

    [TestCase(1u, 0, "process id 1 is out of order (expected 0")]
    [TestCase(0u, 1, "a process record with unknown flags 0x01")]
    public void A_process_record_out_of_order_or_with_unknown_flags_is_damage(uint id, int flags, string problem)
    {
        var (header, records) = MinimalFile(version: TraceFormat.CurrentVersion);
        var file = Concat(header, Block(0, [.. records, Record(RecordKind.Process, ProcessBody(id, (byte)flags))]));

        var error = TryReadAll(file, new CollectingVisitor());

        Assert.That(error!.Problem, Does.Contain(problem));
    }

    private static Dictionary<string, object?> Map(params (string Key, object? Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    private static List<Syscall> CallsWith(int count, Func<int, Dictionary<string, object?>> decoded, Func<int, Process?>? process = null)
    {
        var events = TraceTestData.Events(count, 2, seed: 31);
        return [.. events.Select((e, i) => new Syscall(e, 0, "read", "__x64_sys_read", process?.Invoke(i), new ArgumentMap(e, CallingConvention.LinuxX64, null), null, decoded(i)))];
    }

    // Process `id`: pid 77, name "x" (string 0), no parent unless flag 4, no properties.
    private static byte[] ProcessBody(uint id, byte flags)
    {
        var body = new byte[4 + 1 + 4 + 4 + ((flags & 4) != 0 ? 4 : 0) + 2];
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        body[4] = flags;
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(5), 77);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(9), 0);
        return body;
    }

    // A syscall record named "x" in linux-x64 with the given flags whose process is process `id` and whose map is empty.
    private static byte[] SyscallBodyWithProcessId(uint id, byte flags)
    {
        var body = SyscallBody(0, 0, 1);
        body[2] = flags;
        var withId = new byte[body.Length + 4];
        body.AsSpan(0, body.Length - 2).CopyTo(withId);
        BinaryPrimitives.WriteUInt32LittleEndian(withId.AsSpan(body.Length - 2), id);
        return withId;
    }

    private static List<RecordKind> RecordKinds(byte[] file)
    {
        var kinds = new List<RecordKind>();
        foreach (var block in BlockOffsets(file))
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(block));
            var payload = file.AsSpan(block + TraceFormat.BlockHeaderSize, length);
            for (var at = 0; at < payload.Length; at += 5 + BinaryPrimitives.ReadInt32LittleEndian(payload[(at + 1)..]))
            {
                kinds.Add((RecordKind)payload[at]);
            }
        }

        return kinds;
    }

    // A header of the given version, an event on vCPU 0 and strings 0 "x", 1 "linux-x64", 2 "fd".
    private static (byte[] Header, byte[][] Records) MinimalFile(ushort version)
    {
        var header = Header();
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(header.Length - 4), Reactive.Recording.Internal.Crc32C.Compute(header.AsSpan(0, header.Length - 4)));
        return (header,
        [
            Record(RecordKind.Event, EventBody(0, withSregs: true)),
            Record(RecordKind.String, StringBody(0, "x"u8)),
            Record(RecordKind.String, StringBody(1, "linux-x64"u8)),
            Record(RecordKind.String, StringBody(2, "fd"u8)),
        ]);
    }

    // Map `id`: { "fd" (string 2): fd as a long }.
    private static byte[] MapBody(uint id, long fd)
    {
        var body = new byte[4 + 2 + 4 + 1 + 8];
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(6), 2);
        body[10] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(11), fd);
        return body;
    }

    // Map `id`: { "fd" (string 2): a 2-byte array }.
    private static byte[] MapBodyWithBytes(uint id)
    {
        var body = new byte[4 + 2 + 4 + 1 + 4 + 2];
        BinaryPrimitives.WriteUInt32LittleEndian(body, id);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(6), 2);
        body[10] = 4;
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(11), 2);
        return body;
    }

    // A syscall record named "x" in linux-x64 whose decoded arguments are map `id`.
    private static byte[] SyscallBodyWithMapId(uint id)
    {
        var body = SyscallBody(0, 0, 1);
        body[2] = 8;
        var withId = new byte[body.Length + 2];
        body.AsSpan(0, body.Length - 2).CopyTo(withId);
        BinaryPrimitives.WriteUInt32LittleEndian(withId.AsSpan(body.Length - 2), id);
        return withId;
    }
}
