using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Recording;

public sealed class TraceRoundTripTests
{
    [Test]
    public void Events_round_trip_with_byte_identical_registers()
    {
        var events = TraceTestData.Events(500, 4, seed: 1);
        var file = TraceTestData.WriteEvents(events, blockSize: 4096);

        var read = TraceTestData.ReadAll(file, out var totals);

        Assert.That(read.Events, Has.Count.EqualTo(events.Count));
        Assert.That(totals.Events, Is.EqualTo(500));
        Assert.That(totals.Blocks, Is.GreaterThan(10), "a 4 KiB block size splits 500 events over many blocks");
        for (var i = 0; i < events.Count; i++)
        {
            var (expected, actual) = (events[i], read.Events[i]);
            Assert.That(actual.Registers, Is.EqualTo(expected.Registers), $"registers of event {i}");
            Assert.That(actual.SpecialRegisters, Is.EqualTo(expected.SpecialRegisters), $"special registers of event {i}");
            Assert.That((actual.Vcpu, actual.Direction, actual.Mechanism, actual.Timestamp), Is.EqualTo((expected.Vcpu, expected.Direction, expected.Mechanism, expected.Timestamp)));
        }
    }

    [Test]
    public void Special_registers_are_stored_only_when_they_changed_for_that_vcpu()
    {
        var rng = new Random(3);
        var a = TraceTestData.RandomSpecialRegisters(rng);
        var b = TraceTestData.RandomSpecialRegisters(rng);
        var regs = TraceTestData.RandomRegisters(rng);
        NitroEvent E(int vcpu, in SpecialRegisters s, long t) => new(vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, s, t);
        var events = new[]
        {
            E(0, a, 1), // first of vCPU 0: stored
            E(1, a, 2), // first of vCPU 1: stored even though equal to vCPU 0's
            E(0, a, 3), // unchanged
            E(1, b, 4), // changed on vCPU 1
            E(0, a, 5), // vCPU 0 still unchanged: vCPU 1's change must not leak
            E(0, b, 6), // changed
            E(1, b, 7), // unchanged
        };
        var file = TraceTestData.WriteEvents(events);

        var read = TraceTestData.ReadAll(file, out _);

        Assert.That(read.SpecialRegistersChanged, Is.EqualTo(new[] { true, true, false, true, false, true, false }));
        Assert.That(read.Events.Select(e => e.SpecialRegisters), Is.EqualTo(events.Select(e => e.SpecialRegisters)));
        var expectedLength = TraceTestData.HeaderLength(file) + TraceFormat.BlockHeaderSize + (7 * (5 + 16 + Registers.Size)) + (4 * SpecialRegisters.Size) + (5 + 32);
        Assert.That(file, Has.Length.EqualTo(expectedLength), "one block: 7 events, 4 of them with special registers, and the end record");
    }

    [Test]
    public void Syscalls_round_trip_with_every_field()
    {
        var syscalls = TraceTestData.Syscalls(300, seed: 5);
        var file = TraceTestData.WriteSyscalls(syscalls, blockSize: 2048);

        var read = TraceTestData.ReadAll(file, out var totals);

        Assert.That(totals.Syscalls, Is.EqualTo(300));
        Assert.That(read.Syscalls, Has.Count.EqualTo(300));
        for (var i = 0; i < syscalls.Count; i++)
        {
            var expected = syscalls[i];
            var (e, record) = read.Syscalls[i];
            Assert.That(e.Registers, Is.EqualTo(expected.Event.Registers));
            Assert.That(e.SpecialRegisters, Is.EqualTo(expected.Event.SpecialRegisters));
            Assert.That(e.Timestamp, Is.EqualTo(expected.Event.Timestamp));
            Assert.That(record.Vcpu, Is.EqualTo(expected.Vcpu));
            Assert.That(record.Number, Is.EqualTo(expected.Number));
            Assert.That(record.Name, Is.EqualTo(expected.Name));
            Assert.That(record.FullName, Is.EqualTo(expected.FullName));
            Assert.That(record.Convention, Is.SameAs(expected.Arguments.Convention));
            Assert.That(record.ThreadId, Is.EqualTo(expected.ThreadId));
            AssertProcess(record.Process, expected.Process);
            AssertDecoded(record.Decoded ?? new Dictionary<string, object?>(StringComparer.Ordinal), expected.Decoded);
        }
    }

    [Test]
    public void Every_decoded_value_type_survives_including_unreadable_and_unknown_types()
    {
        var rng = new Random(9);
        var e = new NitroEvent(2, SyscallDirection.Exit, SyscallMechanism.Sysenter, TraceTestData.RandomRegisters(rng), TraceTestData.RandomSpecialRegisters(rng), 42);
        var decoded = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["long"] = long.MinValue,
            ["ulong"] = ulong.MaxValue,
            ["int"] = -7,
            ["string"] = "héllo ☃",
            ["empty"] = string.Empty,
            ["bytes"] = new byte[] { 0, 1, 255 },
            ["strings"] = new[] { "a", string.Empty, "ü" },
            ["true"] = true,
            ["false"] = false,
            ["null"] = null,
            ["unreadable"] = new Unreadable(0xdead_beef_0000, "not mapped"),
            ["guid"] = new Guid("01234567-89ab-cdef-0123-456789abcdef"),
            ["double"] = 1.5,
        };
        var process = new Process(7, "sh", 1, new Dictionary<string, object?>(StringComparer.Ordinal) { ["tgid"] = 7L, ["exe"] = "/bin/sh", ["kthread"] = true });
        var syscall = new Syscall(e, 11, "execve", "__ia32_sys_execve", process, new ArgumentMap(e, CallingConvention.LinuxIa32, null), 77, decoded);

        var (_, record) = TraceTestData.ReadAll(TraceTestData.WriteSyscalls([syscall]), out _).Syscalls.Single();

        var d = record.Decoded!;
        Assert.That(d["long"], Is.EqualTo(long.MinValue).And.TypeOf<long>());
        Assert.That(d["ulong"], Is.EqualTo(ulong.MaxValue).And.TypeOf<ulong>());
        Assert.That(d["int"], Is.EqualTo(-7).And.TypeOf<int>());
        Assert.That(d["string"], Is.EqualTo("héllo ☃"));
        Assert.That(d["empty"], Is.EqualTo(string.Empty));
        Assert.That(d["bytes"], Is.EqualTo(new byte[] { 0, 1, 255 }));
        Assert.That(d["strings"], Is.EqualTo(new[] { "a", string.Empty, "ü" }).And.TypeOf<string[]>());
        Assert.That(d["true"], Is.EqualTo(true));
        Assert.That(d["false"], Is.EqualTo(false));
        Assert.That(d["null"], Is.Null);
        Assert.That(d.ContainsKey("null"));
        Assert.That(d["unreadable"], Is.EqualTo(new Unreadable(0xdead_beef_0000, "not mapped")));
        Assert.That(d["guid"], Is.EqualTo("01234567-89ab-cdef-0123-456789abcdef"), "unknown types are written as their ToString()");
        Assert.That(d["double"], Is.EqualTo("1.5"));
        Assert.That(record.Process!.Properties["tgid"], Is.EqualTo(7L));
        Assert.That(record.Process.Properties["exe"], Is.EqualTo("/bin/sh"));
        Assert.That(record.Process.Properties["kthread"], Is.EqualTo(true));
        Assert.That((record.ThreadId, record.Convention.Name, record.Vcpu), Is.EqualTo(((long?)77, "linux-ia32", 2)));
    }

    [Test]
    public void Repeated_names_are_written_once()
    {
        var syscalls = TraceTestData.Syscalls(200, seed: 11);
        var file = TraceTestData.WriteSyscalls(syscalls);

        var occurrences = CountOccurrences(file, "__x64_sys_openat"u8);

        Assert.That(syscalls.Count(s => string.Equals(s.Name, "openat", StringComparison.Ordinal)), Is.GreaterThan(10));
        Assert.That(occurrences, Is.EqualTo(1));
    }

    [Test]
    public void An_event_is_written_once_when_recorded_both_raw_and_as_a_syscall()
    {
        var syscalls = TraceTestData.Syscalls(50, seed: 12);
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, TraceTestData.Options()))
        {
            foreach (var s in syscalls)
            {
                writer.WriteEvent(s.Event);
                writer.WriteSyscall(s);
            }

            Assert.That((writer.EventCount, writer.SyscallCount), Is.EqualTo((50L, 50L)));
        }

        var read = TraceTestData.ReadAll(stream.ToArray(), out var totals);
        Assert.That((totals.Events, totals.Syscalls), Is.EqualTo((50L, 50L)));
        Assert.That(read.Events.Select(e => e.Timestamp), Is.EqualTo(syscalls.Select(s => s.Event.Timestamp)));
    }

    [Test]
    public async Task Replayed_calls_written_again_give_the_same_trace_without_building_their_events()
    {
        var originals = TraceTestData.Syscalls(400, seed: 41);
        var first = TraceTestData.WriteSyscalls(originals, blockSize: 4096);
        var replayed = await TraceReplay.Syscalls(new MemoryStream(first)).ToList();

        // Half the calls have their event built before they are written again, half not.
        var built = replayed.Where((_, i) => i % 2 == 0).Select(c => c.Event).ToList();
        var second = TraceTestData.WriteSyscalls(replayed, blockSize: 4096);

        var a = TraceTestData.ReadAll(first, out var firstTotals);
        var b = TraceTestData.ReadAll(second, out var secondTotals);
        Assert.That(b.Fingerprints, Is.EqualTo(a.Fingerprints), "every event and call record reads back the same");
        Assert.That((secondTotals.Events, secondTotals.Syscalls), Is.EqualTo((firstTotals.Events, firstTotals.Syscalls)));
        Assert.That(b.SpecialRegistersChanged, Is.EqualTo(a.SpecialRegistersChanged), "special registers are stored where they changed, not for every event");
        Assert.That(second, Has.Length.EqualTo(first.Length));
        Assert.That(built.Select((e, i) => ReferenceEquals(e, replayed[2 * i].Event)), Has.All.True);
        Assert.That(replayed.Where((_, i) => i % 2 == 1).Select(c => c.EventIfBuilt), Has.All.Null, "writing built no event");
    }

    [Test]
    public void Header_keeps_metadata_and_maps_timestamps_to_wall_clock()
    {
        var file = TraceTestData.WriteEvents(TraceTestData.Events(3, 1, seed: 2));
        using var reader = TraceReader.Open(new MemoryStream(file));

        var header = reader.ReadHeaderAsync().AsTask().GetAwaiter().GetResult();

        Assert.That(header.Version, Is.EqualTo(TraceFormat.CurrentVersion));
        Assert.That((header.Os, header.Kernel, header.Vcpus, header.Source), Is.EqualTo(("linux", "6.12.48-amd64", (int?)4, "unit-test")));
        Assert.That(header.CreatedUtc, Is.EqualTo(TraceTestData.Created));
        Assert.That(header.MonotonicOrigin, Is.EqualTo(TraceTestData.Origin));
        Assert.That(header.Metadata["created-utc"], Does.StartWith("2026-03-01T12:00:00"));
        Assert.That(header.ToWallClock(TraceTestData.Origin + 1_500_000_000), Is.EqualTo(TraceTestData.Created.AddSeconds(1.5)));
        Assert.That(header.ToWallClock(TraceTestData.Origin - 300), Is.EqualTo(TraceTestData.Created.AddTicks(-3)));
    }

    [Test]
    public void Extra_metadata_entries_are_kept_and_duplicates_refused()
    {
        using var stream = new MemoryStream();
        using (new TraceWriter(stream, new TraceWriterOptions { LeaveOpen = true, Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["guest"] = "debian-13" } }))
        {
        }

        using var reader = TraceReader.Open(new MemoryStream(stream.ToArray()));
        var header = reader.ReadHeaderAsync().AsTask().GetAwaiter().GetResult();
        Assert.That(header.Metadata["guest"], Is.EqualTo("debian-13"));
        Assert.That(
            () => new TraceWriter(new MemoryStream(), new TraceWriterOptions { Metadata = new Dictionary<string, string>(StringComparer.Ordinal) { ["os"] = "x" } }),
            Throws.ArgumentException.With.Message.Contains("'os'"));
    }

    [Test]
    public void A_record_larger_than_a_block_is_refused_and_the_writer_stays_usable()
    {
        var rng = new Random(1);
        var e = new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, default, default, 5);
        var huge = new Syscall(e, 1, "write", "w", null, new ArgumentMap(e, CallingConvention.LinuxX64, null), null,
            new Dictionary<string, object?>(StringComparer.Ordinal) { ["buf"] = TraceTestData.RandomBytes(rng, TraceFormat.MaxBlockPayload) });
        var small = new Syscall(e, 1, "write", "w", null, new ArgumentMap(e, CallingConvention.LinuxX64, null));
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, TraceTestData.Options()))
        {
            Assert.That(() => writer.WriteSyscall(huge), Throws.ArgumentException.With.Message.Contains("block limit"));
            writer.WriteSyscall(small);
        }

        var read = TraceTestData.ReadAll(stream.ToArray(), out var totals);
        Assert.That(read.Syscalls, Has.Count.EqualTo(1));
        Assert.That(totals.Events, Is.EqualTo(1));
    }

    [Test]
    public void Writing_after_completion_throws_ObjectDisposedException()
    {
        var writer = new TraceWriter(new MemoryStream(), TraceTestData.Options());
        writer.Complete();
        writer.Dispose();
        Assert.That(() => writer.WriteEvent(TraceTestData.Events(1, 1, 1)[0]), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public async Task DisposeAsync_and_FlushAsync_write_a_whole_file()
    {
        var events = TraceTestData.Events(20, 2, seed: 4);
        using var stream = new MemoryStream();
        var writer = new TraceWriter(stream, TraceTestData.Options());
        await using (writer)
        {
            writer.WriteEvent(events[0]);
            await writer.FlushAsync();
            Assert.That(stream.Length, Is.GreaterThan(TraceTestData.HeaderLength(stream.ToArray())), "FlushAsync wrote the first block");
            foreach (var e in events.Skip(1))
            {
                writer.WriteEvent(e);
            }
        }

        var read = TraceTestData.ReadAll(stream.ToArray(), out var totals);
        Assert.That(read.Events, Has.Count.EqualTo(20));
        Assert.That(totals.Blocks, Is.EqualTo(2));
    }

    [Test]
    public void An_unchanged_process_is_read_as_the_same_object_and_a_changed_one_is_not()
    {
        var rng = new Random(13);
        Syscall Call(long t, Process p)
        {
            var e = new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, TraceTestData.RandomRegisters(rng), default, t);
            return new Syscall(e, 0, "read", "__x64_sys_read", p, new ArgumentMap(e, CallingConvention.LinuxX64, null));
        }

        Dictionary<string, object?> Props(string path) => new(StringComparer.Ordinal) { ["path"] = path, ["tgid"] = 5L };
        var file = TraceTestData.WriteSyscalls([
            Call(1, new Process(5, "a", 1, Props("/a"))),
            Call(2, new Process(5, "a", 1, Props("/a"))),
            Call(3, new Process(5, "a", 1, Props("/b"))),
            Call(4, new Process(5, "a", null, Props("/b"))),
        ]);

        var processes = TraceTestData.ReadAll(file, out _).Syscalls.Select(s => s.Record.Process!).ToList();

        Assert.That(processes[1], Is.SameAs(processes[0]));
        Assert.That(processes[2], Is.Not.SameAs(processes[1]));
        Assert.That(processes[2].Properties["path"], Is.EqualTo("/b"));
        Assert.That(processes[3].ParentPid, Is.Null);
        Assert.That(processes[3].Properties.TryGetValue("missing", out _), Is.False);
        Assert.That(() => processes[3].Properties["missing"], Throws.TypeOf<KeyNotFoundException>());
        Assert.That(processes[0].Properties.Keys, Is.EqualTo(new[] { "path", "tgid" }));
    }

    [Test]
    public async Task A_live_pipe_delivers_every_buffered_block_without_waiting_for_more_input()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        var events = TraceTestData.Events(40, 2, seed: 14);
        var writer = new TraceWriter(pipe.Writer, TraceTestData.Options(blockSize: 512));
        foreach (var e in events)
        {
            writer.WriteEvent(e);
        }

        await writer.FlushAsync();
        var visitor = new CollectingVisitor();
        await using var reader = new TraceReader(pipe.Reader);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (visitor.Events.Count < events.Count)
        {
            Assert.That(await reader.ReadBlockAsync(visitor, timeout.Token), Is.True);
        }

        Assert.That(visitor.Events.Select(e => e.Timestamp), Is.EqualTo(events.Select(e => e.Timestamp)), "the writer is still open, yet every flushed block was read");
        await writer.DisposeAsync();
        Assert.That(await reader.ReadBlockAsync(visitor, timeout.Token), Is.False);
    }

    [Test]
    public void Concurrent_writers_on_several_vcpu_threads_lose_nothing_and_keep_each_vcpu_in_order()
    {
        const int perVcpu = 500;
        var perThread = Enumerable.Range(0, 4)
            .Select(v => TraceTestData.Events(perVcpu, 1, seed: 50 + v).Select(e => new NitroEvent(v, e.Direction, e.Mechanism, e.Registers, e.SpecialRegisters, e.Timestamp)).ToList())
            .ToList();
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, TraceTestData.Options(blockSize: 4096)))
        {
            Parallel.ForEach(perThread, new ParallelOptions { MaxDegreeOfParallelism = 4 }, events =>
            {
                foreach (var e in events)
                {
                    writer.WriteEvent(e);
                }
            });
        }

        var read = TraceTestData.ReadAll(stream.ToArray(), out var totals);

        Assert.That(totals.Events, Is.EqualTo(4 * perVcpu));
        for (var v = 0; v < 4; v++)
        {
            var vcpu = v;
            Assert.That(read.Events.Where(e => e.Vcpu == vcpu).Select(e => e.Registers), Is.EqualTo(perThread[v].Select(e => e.Registers)), $"vCPU {v}");
        }
    }

    [TestCase(0.0)]
    [TestCase(-1.0)]
    [TestCase(double.NaN)]
    public void A_replay_speed_that_is_not_positive_is_refused(double speed) =>
        Assert.That(() => TraceReplay.Events(new MemoryStream(), ReplayOptions.Timed(System.Reactive.Concurrency.ImmediateScheduler.Instance, speed)),
            Throws.TypeOf<ArgumentOutOfRangeException>());

    private static void AssertProcess(Process? actual, Process? expected)
    {
        if (expected is null)
        {
            Assert.That(actual, Is.Null);
            return;
        }

        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(actual!.ParentPid, Is.EqualTo(expected.ParentPid));
        Assert.That(actual.Properties, Is.EquivalentTo(expected.Properties));
    }

    private static void AssertDecoded(IReadOnlyDictionary<string, object?> actual, IReadOnlyDictionary<string, object?> expected)
    {
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (key, value) in expected)
        {
            Assert.That(actual[key], Is.EqualTo(value), key);
        }
    }

    private static int CountOccurrences(byte[] haystack, ReadOnlySpan<byte> needle)
    {
        var count = 0;
        var span = haystack.AsSpan();
        int at;
        while ((at = span.IndexOf(needle)) >= 0)
        {
            count++;
            span = span[(at + needle.Length)..];
        }

        return count;
    }
}
