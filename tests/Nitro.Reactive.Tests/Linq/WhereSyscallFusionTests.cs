using System.Buffers.Binary;
using System.Collections;
using System.Collections.Frozen;
using System.Globalization;
using System.Reactive.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Tests.Recording;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Linq;

/// <summary>
/// <c>WhereSyscall</c> straight after <c>TraceReplay.Syscalls</c> runs inside the reader. These
/// tests hold the fused pipeline to the unfused one — an Rx <c>Where</c> with the same names —
/// on intact and on damaged files.
/// </summary>
public sealed class WhereSyscallFusionTests
{
    private static readonly string[] s_names = ["openat", "read"];

    [Test]
    public void WhereSyscall_on_a_fast_replay_is_fused_into_the_reader()
    {
        using var stream = new MemoryStream(WriteSyscalls(TraceTestData.Syscalls(10, seed: 600)));

        Assert.That(TraceReplay.Syscalls(stream).WhereSyscall("read"), Is.InstanceOf<SyscallReplayObservable>());
        Assert.That(TraceReplay.Syscalls("unused.trace").WhereSyscall("read", "openat"), Is.InstanceOf<SyscallReplayObservable>());
    }

    [Test]
    public void WhereSyscall_on_a_paced_replay_is_not_fused()
    {
        using var stream = new MemoryStream(WriteSyscalls(TraceTestData.Syscalls(10, seed: 601)));
        var options = new ReplayOptions { Scheduler = new TestScheduler() };

        Assert.That(TraceReplay.Syscalls(stream, options).WhereSyscall("read"), Is.Not.InstanceOf<SyscallReplayObservable>());
    }

    [TestCase(4096)]
    [TestCase(1500)]
    [TestCase(256 * 1024)]
    public async Task Fused_WhereSyscall_delivers_the_same_calls_as_Where(int blockSize)
    {
        var file = WriteSyscalls(TraceTestData.Syscalls(400, seed: 602), blockSize);

        var (fused, fusedError) = await Replay(file, s => s.WhereSyscall(s_names));
        var (plain, plainError) = await Replay(file, s => s.Where(c => s_names.Contains(c.Name)));

        Assert.That(fusedError, Is.Null);
        Assert.That(plainError, Is.Null);
        Assert.That(fused, Has.Count.GreaterThan(50).And.Count.LessThan(400), "the filter keeps some calls and drops others");
        Assert.That(fused, Is.EqualTo(plain));
    }

    [Test]
    public async Task Fused_WhereSyscall_delivers_the_same_calls_from_a_file_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-fusion-{Guid.NewGuid():N}.trace");
        await File.WriteAllBytesAsync(path, WriteSyscalls(TraceTestData.Syscalls(300, seed: 603), blockSize: 2048));
        try
        {
            var fused = (await TraceReplay.Syscalls(path).WhereSyscall("write").ToList()).Select(Describe).ToList();
            var plain = (await TraceReplay.Syscalls(path).Where(c => c.Name is "write").ToList()).Select(Describe).ToList();

            Assert.That(fused, Is.Not.Empty);
            Assert.That(fused, Is.EqualTo(plain));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Chained_WhereSyscall_keeps_the_calls_both_filters_keep()
    {
        var file = WriteSyscalls(TraceTestData.Syscalls(300, seed: 604), blockSize: 4096);

        var (fused, _) = await Replay(file, s => s.WhereSyscall("openat", "read", "mmap").WhereSyscall("read", "mmap", "close"));
        var (plain, _) = await Replay(file, s => s.Where(c => c.Name is "read" or "mmap"));
        var (none, _) = await Replay(file, s => s.WhereSyscall("openat").WhereSyscall("read"));

        Assert.That(fused, Is.Not.Empty);
        Assert.That(fused, Is.EqualTo(plain));
        Assert.That(none, Is.Empty);
    }

    [Test]
    public async Task Fused_WhereSyscall_after_other_operators_still_filters()
    {
        var file = WriteSyscalls(TraceTestData.Syscalls(200, seed: 605), blockSize: 4096);

        var (fused, _) = await Replay(file, s => s.WhereSyscall("read", "write").WhereProcess("proc101").WhereSyscall("read"));
        var (plain, _) = await Replay(file, s => s.Where(c => c.Name is "read" && c.Process?.Name is "proc101"));

        Assert.That(fused, Is.Not.Empty);
        Assert.That(fused, Is.EqualTo(plain));
    }

    [Test]
    public async Task Fused_and_unfused_agree_on_damaged_files_call_for_call_and_error_for_error()
    {
        var templates = new[]
        {
            WriteSyscalls(TraceTestData.Syscalls(120, seed: 606), blockSize: 1500),
            WriteSyscalls(TraceTestData.Syscalls(60, seed: 607), blockSize: 4096),
        };
        var errors = 0;
        for (var seed = 0; seed < 600; seed++)
        {
            var rng = new Random(seed);
            var damaged = Damage(templates[seed % templates.Length], rng);

            var (fused, fusedError) = await Replay(damaged, s => s.WhereSyscall(s_names));
            var (plain, plainError) = await Replay(damaged, s => s.Where(c => s_names.Contains(c.Name)));

            Assert.That(fused, Is.EqualTo(plain), $"seed {seed}: the calls before the error");
            Assert.That(fusedError, Is.EqualTo(plainError), $"seed {seed}: the error");
            errors += fusedError is null ? 0 : 1;
        }

        // About half the flips are errors: the rest land in register bytes or string contents, which
        // any value may hold (295 of 600 with format 2, whose processes are records of their own).
        Assert.That(errors, Is.GreaterThan(250), "much damage is detected, so the errors were compared");
    }

    [Test]
    public async Task A_damaged_record_of_a_dropped_call_fails_the_fused_replay_as_it_fails_the_unfused_one()
    {
        var file = FileWithOneDroppedCall(flags: 0, tail: [1, 0]); // one decoded value announced, none there

        var (fused, fusedError) = await Replay(file, s => s.WhereSyscall("read"));
        var (plain, plainError) = await Replay(file, s => s.Where(c => c.Name is "read"));

        Assert.That(fused, Has.Count.EqualTo(1));
        Assert.That(fused, Is.EqualTo(plain));
        Assert.That(fusedError, Does.Contain("runs past the end of the record"));
        Assert.That(fusedError, Is.EqualTo(plainError));
    }

    // A dropped call's thread id, process and decoded map are checked as a delivered call's are:
    // each case is a tail, intact or damaged in one way, and the fused replay must deliver and
    // fail exactly as the unfused one does.
    [TestCase("every value kind", 7, "tid pid name:5 ppid | map9", true)]
    [TestCase("an inline key", 0, "inline-key", true)]
    [TestCase("unknown value tag", 0, "tag:9", false)]
    [TestCase("boolean byte 2", 0, "bool:2", false)]
    [TestCase("string not UTF-8", 0, "bad-utf8", false)]
    [TestCase("undefined key id", 0, "key:99", false)]
    [TestCase("one key twice", 0, "dup-id", false)]
    [TestCase("two ids of equal strings as keys", 0, "dup-string", false)]
    [TestCase("string array longer than the record", 0, "strings:1000", false)]
    [TestCase("bytes past the end", 0, "bytes:1000", false)]
    [TestCase("unreadable with a cut reason", 0, "unreadable-cut", false)]
    [TestCase("a byte after the map", 0, "empty-map extra", false)]
    [TestCase("undefined process name", 2, "pid name:99 | empty-map", false)]
    [TestCase("thread id cut off", 1, "half-tid", false)]
    [TestCase("process map cut off", 2, "pid name:5 | cut-map", false)]
    public async Task A_dropped_call_is_checked_as_the_full_reader_checks_it(string what, int flags, string tail, bool intact)
    {
        var file = FileWithOneDroppedCall((byte)flags, Tail(tail));

        var (fused, fusedError) = await Replay(file, s => s.WhereSyscall("read"));
        var (plain, plainError) = await Replay(file, s => s.Where(c => c.Name is "read"));

        Assert.That(fusedError, Is.EqualTo(plainError), what);
        Assert.That(fused, Is.EqualTo(plain), what);

        // The file has no end record: an intact dropped call lets both good calls through to that error.
        Assert.That(fused, Has.Count.EqualTo(intact ? 2 : 1), what);
        Assert.That(fusedError, intact ? Does.Contain("without an end record") : Does.Not.Contain("without an end record"), what);
    }

    [Test]
    public void A_reader_with_a_name_filter_stops_at_a_dropped_call_once_cancelled()
    {
        var file = WriteSyscalls(TraceTestData.Syscalls(50, seed: 608));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        using var reader = TraceReader.Open(new MemoryStream(file));
        reader.NameFilter = new SyscallNameFilter(FrozenSet.ToFrozenSet(["no-such-call"], StringComparer.Ordinal), cancelled.Token);
        var visitor = new CollectingVisitor();

        Assert.That(async () => await reader.ReadToEndAsync(visitor), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(visitor.Syscalls, Is.Empty);
        Assert.That(visitor.Events, Has.Count.EqualTo(1), "it stopped at the first call, after that call's event");
    }

    [Test]
    public async Task Take_on_a_fused_replay_stops_reading()
    {
        var calls = TraceTestData.Syscalls(20_000, seed: 609);
        using var stream = new CountingStream(WriteSyscalls(calls, blockSize: 16 * 1024));

        var first = await TraceReplay.Syscalls(stream).WhereSyscall("read").Take(5).ToList();
        var readAfterDisposal = stream.BytesRead;
        await Task.Delay(50);

        Assert.That(first, Has.Count.EqualTo(5));
        Assert.That(first.Select(c => c.Name), Is.All.EqualTo("read"));
        Assert.That(readAfterDisposal, Is.LessThan(stream.Length / 4));
        Assert.That(stream.BytesRead, Is.EqualTo(readAfterDisposal), "nothing is read after disposal");
    }

    /// <summary>
    /// A trace without an end record: a read, then a write that <c>WhereSyscall("read")</c> drops,
    /// whose bytes after its fixed part are <paramref name="tail"/>, then a read. Strings 3 and 4
    /// are both "fd"; 5 … 9 are further keys.
    /// </summary>
    private static byte[] FileWithOneDroppedCall(byte flags, byte[] tail)
    {
        var strings = Block(0,
            Record(RecordKind.String, StringBody(0, "read"u8)),
            Record(RecordKind.String, StringBody(1, "linux-x64"u8)),
            Record(RecordKind.String, StringBody(2, "write"u8)),
            Record(RecordKind.String, StringBody(3, "fd"u8)),
            Record(RecordKind.String, StringBody(4, "fd"u8)),
            Record(RecordKind.String, StringBody(5, "bash"u8)),
            Record(RecordKind.String, StringBody(6, "path"u8)),
            Record(RecordKind.String, StringBody(7, "buf"u8)),
            Record(RecordKind.String, StringBody(8, "argv"u8)),
            Record(RecordKind.String, StringBody(9, "why"u8)),
            Record(RecordKind.Event, EventBody(0, withSregs: true)));
        var good = Record(RecordKind.Syscall, SyscallBody(0, 0, 1));
        var dropped = SyscallBody(2, 2, 1)[..^2]; // without its empty decoded map
        dropped[2] = flags;
        return Concat(Header(), strings, Block(1, good, Record(RecordKind.Syscall, [.. dropped, .. tail]), good));
    }

    // The words of a dropped call's tail in the test cases above, some with an argument ("name:5").
    private static readonly Dictionary<string, Action<TailBuilder, uint>> s_tailWords = new(StringComparer.Ordinal)
    {
        ["tid"] = (t, _) => t.U64(77),
        ["half-tid"] = (t, _) => t.U32(77),
        ["pid"] = (t, _) => t.U32(1234),
        ["ppid"] = (t, _) => t.U32(1),
        ["name"] = (t, id) => t.U32(id),
        ["|"] = (t, _) => t.U16(0),
        ["empty-map"] = (t, _) => t.U16(0),
        ["extra"] = (t, _) => t.Byte(0),
        ["cut-map"] = (t, _) => t.U16(1).U32(3),
        ["map9"] = (t, _) => t.AllValueKinds(),
        ["inline-key"] = (t, _) => t.U16(1).U32(TraceFormat.InlineString).Inline("fd"u8).Byte((byte)ValueTag.Null),
        ["tag"] = (t, tag) => t.OneEntry((byte)tag),
        ["bool"] = (t, value) => t.OneEntry((byte)ValueTag.Boolean).Byte((byte)value),
        ["bad-utf8"] = (t, _) => t.OneEntry((byte)ValueTag.String).Inline([0x66, 0xFF]),
        ["key"] = (t, id) => t.U16(1).U32(id).Byte((byte)ValueTag.Null),
        ["dup-id"] = (t, _) => t.U16(2).U32(3).Byte((byte)ValueTag.Null).U32(3).Byte((byte)ValueTag.Null),
        ["dup-string"] = (t, _) => t.U16(2).U32(3).Byte((byte)ValueTag.Null).U32(4).Byte((byte)ValueTag.Null),
        ["strings"] = (t, count) => t.OneEntry((byte)ValueTag.StringArray).U32(count),
        ["bytes"] = (t, length) => t.OneEntry((byte)ValueTag.Bytes).U32(length),
        ["unreadable-cut"] = (t, _) => t.OneEntry((byte)ValueTag.Unreadable).U64(0x1000).U32(10).Byte(0x41),
    };

    /// <summary>The bytes after a system call record's fixed part, from words (see the test cases).</summary>
    private static byte[] Tail(string words)
    {
        var tail = new TailBuilder();
        foreach (var word in words.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = word.IndexOf(':', StringComparison.Ordinal);
            var arg = at < 0 ? 0u : uint.Parse(word[(at + 1)..], CultureInfo.InvariantCulture);
            s_tailWords[at < 0 ? word : word[..at]](tail, arg);
        }

        return [.. tail.Bytes];
    }

    /// <summary>Flips bytes inside one block's payload and re-seals its checksums, so that the records themselves are damaged.</summary>
    private static byte[] Damage(byte[] template, Random rng)
    {
        var file = (byte[])template.Clone();
        var blocks = BlockOffsets(file);
        var at = blocks[rng.Next(blocks.Count)];
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at));
        var payload = file.AsSpan(at + TraceFormat.BlockHeaderSize, length);
        for (var flips = 1 + rng.Next(3); flips > 0; flips--)
        {
            payload[rng.Next(payload.Length)] ^= (byte)(1 << rng.Next(8));
        }

        if (rng.Next(10) != 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(at + 12), Crc32C.Compute(payload));
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(at + 16), Crc32C.Compute(file.AsSpan(at, 16)));
        }

        return file;
    }

    private static async Task<(List<string> Calls, string? Error)> Replay(byte[] file, Func<IObservable<Syscall>, IObservable<Syscall>> query)
    {
        using var stream = new MemoryStream(file, writable: false);
        var calls = new List<string>();
        try
        {
            await query(TraceReplay.Syscalls(stream)).ForEachAsync(c => calls.Add(Describe(c)));
            return (calls, null);
        }
        catch (TraceFormatException ex)
        {
            return (calls, $"{ex.GetType().Name} at {ex.Offset}: {ex.Message}");
        }
    }

    /// <summary>Everything a call carries, as text.</summary>
    private static string Describe(Syscall call)
    {
        var text = new StringBuilder();
        var e = call.Event;
        text.Append(CultureInfo.InvariantCulture, $"{call.Name}|{call.FullName}|{call.Number}|{call.ThreadId}|{e.Vcpu}|{e.Direction}|{e.Mechanism}|{e.Timestamp}|");
        text.Append(Convert.ToHexString(MemoryMarshal.AsBytes(new ReadOnlySpan<Registers>(in e.Registers)))).Append('|');
        text.Append(Convert.ToHexString(MemoryMarshal.AsBytes(new ReadOnlySpan<SpecialRegisters>(in e.SpecialRegisters)))).Append('|');
        text.Append(call.Arguments.Convention.Name).Append('|').Append(call.Arguments[0]).Append('|');
        if (call.Process is { } p)
        {
            text.Append(CultureInfo.InvariantCulture, $"{p.Pid} {p.Name} {p.ParentPid} ");
            AppendMap(text, p.Properties);
        }

        text.Append('|');
        AppendMap(text, call.Decoded);
        return text.ToString();
    }

    private static void AppendMap(StringBuilder text, IReadOnlyDictionary<string, object?> map)
    {
        foreach (var (key, value) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append('=').Append(value switch
            {
                byte[] bytes => Convert.ToHexString(bytes),
                IEnumerable items and not string => string.Join(",", items.Cast<object?>()),
                _ => Convert.ToString(value, CultureInfo.InvariantCulture),
            }).Append(value?.GetType().Name).Append(';');
        }
    }

    private sealed class TailBuilder
    {
        public List<byte> Bytes { get; } = [];

        public TailBuilder Byte(byte v)
        {
            Bytes.Add(v);
            return this;
        }

        public TailBuilder U16(int v) => Add(BitConverter.GetBytes((ushort)v));

        public TailBuilder U32(uint v) => Add(BitConverter.GetBytes(v));

        public TailBuilder U64(ulong v) => Add(BitConverter.GetBytes(v));

        public TailBuilder Inline(ReadOnlySpan<byte> utf8) => U32((uint)utf8.Length).Add(utf8);

        /// <summary>A map of one entry, key "fd", with the value tag given (its value follows).</summary>
        public TailBuilder OneEntry(byte tag) => U16(1).U32(3).Byte(tag);

        /// <summary>A valid map of nine entries, one of every value kind.</summary>
        public TailBuilder AllValueKinds() =>
            U16(9)
                .U32(0).Byte((byte)ValueTag.Null)
                .U32(1).Byte((byte)ValueTag.Int64).U64(5)
                .U32(2).Byte((byte)ValueTag.UInt64).U64(5)
                .U32(3).Byte((byte)ValueTag.Int32).U32(5)
                .U32(5).Byte((byte)ValueTag.Boolean).Byte(1)
                .U32(6).Byte((byte)ValueTag.String).Inline("/etc/passwd"u8)
                .U32(7).Byte((byte)ValueTag.Bytes).Inline([1, 2, 3])
                .U32(8).Byte((byte)ValueTag.StringArray).U32(2).Inline("ls"u8).Inline("-l"u8)
                .U32(9).Byte((byte)ValueTag.Unreadable).U64(0x1000).Inline("unmapped"u8);

        private TailBuilder Add(ReadOnlySpan<byte> bytes)
        {
            Bytes.AddRange(bytes);
            return this;
        }
    }
}
