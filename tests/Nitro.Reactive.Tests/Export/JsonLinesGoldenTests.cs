using System.Reactive.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using Nitro.Reactive.Events;
using Nitro.Reactive.Export;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Tests.Recording;

namespace Nitro.Reactive.Tests.Export;

/// <summary>
/// The JSON Lines output stays byte for byte what it was: the golden files under
/// <c>Export/Golden/</c> were written by the writer as it was before its speed-up (2026-12-03),
/// from the bundled demo trace and from synthetic calls with every kind of value, both as built
/// by a back end and as replayed from a trace. Set <c>NITRO_REGENERATE_GOLDEN=1</c> to rewrite
/// them (only on purpose: the point is that they do not change).
/// </summary>
public sealed class JsonLinesGoldenTests
{
    private static readonly TimeOrigin s_origin = new(new DateTimeOffset(2026, 11, 22, 3, 11, 0, TimeSpan.Zero), 0);

    [Test]
    public async Task The_demo_trace_replays_to_the_same_json_lines()
    {
        var lines = await WriteAsync(TraceReplay.Syscalls(DemoTrace()));

        AssertGolden("demo.jsonl", lines);
    }

    [Test]
    public async Task The_demo_trace_paired_with_exits_replays_to_the_same_json_lines()
    {
        var lines = await WriteAsync(TraceReplay.Syscalls(DemoTrace()).PairWithExit());

        AssertGolden("demo-paired.jsonl", lines);
    }

    [Test]
    public async Task Calls_built_by_a_back_end_give_the_same_json_lines()
    {
        var lines = await WriteAsync(SyntheticCalls().ToObservable());

        AssertGolden("synthetic.jsonl", lines);
    }

    [Test]
    public async Task The_same_calls_replayed_from_a_trace_give_the_same_json_lines()
    {
        using var stream = new MemoryStream(TraceTestData.WriteSyscalls(SyntheticCalls(), blockSize: 4096));

        var lines = await WriteAsync(TraceReplay.Syscalls(stream));

        AssertGolden("synthetic-replayed.jsonl", lines);
    }

    [Test]
    public void A_call_with_modified_arguments_gives_the_same_json_line()
    {
        var access = new InMemoryVcpu();
        using var pause = VcpuHandle.Pause(0, access);
        var @event = SyscallSamples.Event(SyscallDirection.Enter, 257, handle: pause.Handle);
        var call = new Syscall(@event, 257, "openat", "__x64_sys_openat", SyscallSamples.Cat(), new ArgumentMap(@event, CallingConvention.LinuxX64, null), 42);
        call.Arguments.Set(2, 0x41);
        call.Arguments.Set(1, 0x7fff_0000);
        using var output = new MemoryStream();
        using (var writer = new JsonLinesWriter(output, s_origin, leaveOpen: true))
        {
            writer.Write(call);
        }

        AssertGolden("modified.jsonl", output.ToArray());
    }

    [Test]
    public async Task Every_line_is_what_SyscallJson_writes_for_the_call()
    {
        using var stream = new MemoryStream(TraceTestData.WriteSyscalls(SyntheticCalls(), blockSize: 4096));
        var calls = SyntheticCalls().Concat(await TraceReplay.Syscalls(stream).ToList()).ToList();
        var paired = calls.Where(c => c.Direction == SyscallDirection.Exit).Select(c => c.WithEntry(calls[0].Direction == SyscallDirection.Enter ? calls[0] : calls.First(e => e.Direction == SyscallDirection.Enter)));

        foreach (var call in calls.Concat(paired))
        {
            var line = Encoding.UTF8.GetString(await WriteAsync(Observable.Return(call)));

            Assert.That(line, Is.EqualTo(SyscallJson.ToJson(call, s_origin) + "\n"));
        }
    }

    internal static List<Syscall> SyntheticCalls()
    {
        var calls = TraceTestData.Syscalls(150, seed: 11);
        var rng = new Random(5);
        string[] texts =
        [
            "plain", "quote \" backslash \\ slash /", "tab\tnewline\nreturn\r", "\u0001\u001f\u007f control", "é ü ß ∑ 日本語",
            "emoji 😀 🎉", "lone \ud800 surrogate", "<script>&amp;'</script>", string.Empty, new string('x', 300),
        ];
        var processes = new Process?[]
        {
            null,
            new(1, "init"),
            new(2, "kthreadd", 0, new Dictionary<string, object?>(StringComparer.Ordinal) { ["kernel_thread"] = true, ["pid"] = 99, ["name"] = "shadow" }),
            new(3, "we\"ird\\name\u0002", null, new Dictionary<string, object?>(StringComparer.Ordinal) { ["path"] = "/opt/é/x", ["args"] = new[] { "a", "b" }, ["start"] = 1.5 }),
        };
        for (var i = 0; i < 120; i++)
        {
            var direction = (SyscallDirection)(i % 2);
            var convention = (i % 3) switch { 0 => CallingConvention.LinuxX64, 1 => CallingConvention.LinuxIa32, _ => CallingConvention.WindowsX64 };
            var registers = TraceTestData.RandomRegisters(rng);
            registers.Rax = i % 7 == 0 ? unchecked((ulong)-2L) : (ulong)rng.Next(500);
            var special = TraceTestData.RandomSpecialRegisters(rng);
            var @event = new NitroEvent(i % 3, direction, (SyscallMechanism)(i % 2), registers, special, (i * 1_234_567L) - 5_000);
            var decoded = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["text"] = texts[i % texts.Length],
                [texts[(i + 3) % texts.Length] + "key"] = i,
                ["long"] = (long)rng.NextInt64() - (long.MaxValue / 2),
                ["ulong"] = ulong.MaxValue - (ulong)i,
                ["uint"] = (uint)i,
                ["short"] = (short)-i,
                ["byte"] = (byte)i,
                ["double"] = i % 4 == 0 ? double.NaN : i / 7.0,
                ["float"] = i % 5 == 0 ? float.PositiveInfinity : i / 3f,
                ["decimal"] = i / 8m,
                ["enum"] = direction,
                ["bytes"] = TraceTestData.RandomBytes(rng, i % 9),
                ["memory"] = new ReadOnlyMemory<byte>(TraceTestData.RandomBytes(rng, 3)),
                ["strings"] = new[] { texts[i % texts.Length], "b" },
                ["list"] = new List<object?> { 1L, "two", null, new[] { 3 } },
                ["nested"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["deeper"] = new Dictionary<string, object?>(StringComparer.Ordinal) { ["x"] = i } },
                ["hashtable"] = new System.Collections.Hashtable { [7] = "seven" },
                ["unreadable"] = new Unreadable(0xdead_0000UL + (ulong)i, texts[(i + 1) % texts.Length]),
                ["time"] = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(1)).AddSeconds(i),
                ["datetime"] = new DateTime(2026, 2, 3, 4, 5, 6, DateTimeKind.Utc).AddMinutes(i),
                ["span"] = TimeSpan.FromMilliseconds(i * 13.5),
                ["guid"] = new Guid(i, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
                ["uri"] = new Uri("https://example.invalid/" + i),
                ["null"] = null,
                ["bool"] = i % 2 == 0,
            };
            calls.Add(new Syscall(@event, i % 2 == 0 ? 257 : -1, texts[i % 5].Length > 0 ? "call" + (i % 5) : "x", "__x64_sys_call", processes[i % processes.Length],
                new ArgumentMap(@event, convention, null), i % 4 == 0 ? null : -i, i % 6 == 0 ? null : decoded));
        }

        return calls;
    }

    // From the repository root found above the test's output, not [CallerFilePath]: a CI=true build maps
    // source paths to /_/ (deterministic PDBs), where no file is.
    private static string DemoTrace() =>
        Path.Combine(Nitro.Tests.Shared.TestGuest.RepositoryRoot, "samples", "traces", "demo.nitrotrace");

    private static async Task<byte[]> WriteAsync(IObservable<Syscall> calls)
    {
        using var output = new MemoryStream();
        using (var writer = new JsonLinesWriter(output, s_origin, leaveOpen: true))
        {
            await calls.ForEachAsync(writer.Write);
        }

        return output.ToArray();
    }

    private static void AssertGolden(string name, byte[] actual)
    {
        var path = Path.Combine(Nitro.Tests.Shared.TestGuest.RepositoryRoot, "tests", "Nitro.Reactive.Tests", "Export", "Golden", name);
        if (Environment.GetEnvironmentVariable("NITRO_REGENERATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, actual);
            Assert.Inconclusive($"rewrote {path}");
        }

        var expected = File.ReadAllBytes(path);
        if (expected.AsSpan().SequenceEqual(actual))
        {
            return;
        }

        var expectedLines = Encoding.UTF8.GetString(expected).Split('\n');
        var actualLines = Encoding.UTF8.GetString(actual).Split('\n');
        var first = 0;
        while (first < Math.Min(expectedLines.Length, actualLines.Length) && expectedLines[first] == actualLines[first])
        {
            first++;
        }

        Assert.Fail($"{name}: output differs from the golden file ({expected.Length} bytes expected, {actual.Length} written), first at line {first + 1}:\n" +
            $"expected: {(first < expectedLines.Length ? expectedLines[first] : "<end>")}\n" +
            $"actual:   {(first < actualLines.Length ? actualLines[first] : "<end>")}");
    }
}
