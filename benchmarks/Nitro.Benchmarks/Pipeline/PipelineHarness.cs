using System.Diagnostics;
using System.Globalization;
using System.Reactive.Linq;
using Nitro.Reactive.Export;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Pipeline;

/// <summary>
/// End-to-end throughput of replay pipelines over one synthetic trace file: Stopwatch and
/// GC.GetTotalAllocatedBytes around whole runs, median of several runs.
/// </summary>
internal static class PipelineHarness
{
    private const int DefaultCalls = 2_000_000;
    private const int DefaultRuns = 5;

    public static int Run(string[] args)
    {
        if (ParseArguments(args) is not { } parsed)
        {
            return 2;
        }

        var (calls, runs, rows, pairs) = parsed;

        var path = Path.Combine(Path.GetTempPath(), $"nitro-pipeline-{Environment.ProcessId}.trace");
        try
        {
            var written = Stopwatch.StartNew();
            SyntheticTrace.Write(path, calls);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"trace: {calls:N0} decoded calls (+ their events), {new FileInfo(path).Length / (1024.0 * 1024.0):F1} MiB, written in {written.Elapsed.TotalSeconds:F1} s; {runs} runs each, median"));

            (string Name, Func<long> Body)[] cases =
            [
                ("(h) hand loop: read, CRC, parse, number filter, count", () => HandLoop.CountSyscalls(path, 257, 0)),
                ("(a) TraceReader + counting visitor (raw events)", () => CountRawEvents(path)),
                ("(b) TraceReplay.Syscalls -> Count", () => TraceReplay.Syscalls(path).Count().Wait()),
                ("(c) -> WhereSyscall(openat, read) -> Count", () => TraceReplay.Syscalls(path).WhereSyscall("openat", "read").Count().Wait()),
                ("(d) -> WhereProcess(bash) -> PairWithExit -> Count", () => TraceReplay.Syscalls(path).WhereProcess("bash").PairWithExit().Count().Wait()),
                ("(e) -> JsonLinesWriter(Stream.Null)", () => WriteJson(path)),
                ("(f) -> Decouple(4096) -> Count", () => TraceReplay.Syscalls(path).Decouple(4096).Count().Wait()),
            ];

            if (pairs > 0)
            {
                RunPairs(cases[0].Body, cases[3].Body, calls, pairs);
            }
            else
            {
                RunCases(cases, calls, runs, rows);
            }

            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static (int Calls, int Runs, string? Rows, int Pairs)? ParseArguments(string[] args)
    {
        var calls = DefaultCalls;
        var runs = DefaultRuns;
        string? rows = null;
        var pairs = 0;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--calls" when i + 1 < args.Length:
                    calls = int.Parse(args[++i], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--runs" when i + 1 < args.Length:
                    runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--rows" when i + 1 < args.Length:
                    rows = args[++i];
                    break;
                case "--pairs" when i + 1 < args.Length:
                    pairs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"pipeline: unknown argument '{args[i]}'. Usage: pipeline [--calls N] [--runs R] [--rows hace] [--pairs P]");
                    return null;
            }
        }

        if (calls < 2 || runs < 1 || pairs < 0)
        {
            Console.Error.WriteLine("pipeline: --calls must be at least 2, --runs at least 1 and --pairs at least 0.");
            return null;
        }

        return (calls, runs, rows, pairs);
    }

    private static void RunCases((string Name, Func<long> Body)[] cases, int calls, int runs, string? rows)
    {
        Console.WriteLine($"load before: {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine($"| {"pipeline",-52} | {"events/s",12} | {"ns/event",9} | {"B/event",8} | {"result",10} |");
        Console.WriteLine($"|{new string('-', 54)}|{new string('-', 13)}:|{new string('-', 10)}:|{new string('-', 9)}:|{new string('-', 11)}:|");
        var rates = new double[cases.Length];
        for (var c = 0; c < cases.Length; c++)
        {
            var (name, body) = cases[c];
            if (rows is not null && !rows.Contains(name[1], StringComparison.Ordinal))
            {
                continue;
            }

            var (seconds, bytes, result) = Measure(body, runs);
            rates[c] = calls / seconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name,-52} | {calls / seconds,12:N0} | {seconds * 1e9 / calls,9:F0} | {(double)bytes / calls,8:F0} | {result,10:N0} |"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(c) / (h) = {(rates[0] > 0 ? rates[3] / rates[0] : double.NaN):F2} (target >= 0.5); load after: {LoadAverage()}"));
    }

    /// <summary>
    /// The target's ratio (c) / (h) from runs of the two taken side by side: each pair runs both,
    /// in alternating order, one right after the other, so that a drift of the machine's speed
    /// (other tenants, frequency) hits both alike and cancels in that pair's ratio.
    /// </summary>
    private static void RunPairs(Func<long> hand, Func<long> replay, int calls, int pairs)
    {
        Console.WriteLine($"load before: {LoadAverage()}");
        var (_, _, handCount) = Measure(hand, 1);
        var (_, _, replayCount) = Measure(replay, 1);
        if (handCount != replayCount)
        {
            throw new InvalidOperationException($"pipeline: (h) counted {handCount} calls and (c) {replayCount}; the pair would compare different work.");
        }

        var ratios = new double[pairs];
        var handNs = new double[pairs];
        var replayNs = new double[pairs];
        for (var p = 0; p < pairs; p++)
        {
            double h, c;
            if (p % 2 == 0)
            {
                h = RunOnce(hand).Seconds;
                c = RunOnce(replay).Seconds;
            }
            else
            {
                c = RunOnce(replay).Seconds;
                h = RunOnce(hand).Seconds;
            }

            (ratios[p], handNs[p], replayNs[p]) = (h / c, h * 1e9 / calls, c * 1e9 / calls);
        }

        Array.Sort(ratios);
        Array.Sort(handNs);
        Array.Sort(replayNs);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{pairs} pairs: (h) median {handNs[pairs / 2]:F1} ns/call, (c) median {replayNs[pairs / 2]:F1} ns/call"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"(c) / (h) per pair: median {ratios[pairs / 2]:F3}, quartiles {ratios[pairs / 4]:F3} … {ratios[pairs * 3 / 4]:F3}, range {ratios[0]:F3} … {ratios[^1]:F3} (target >= 0.5); load after: {LoadAverage()}"));
    }

    /// <summary>One measured run, from a collected heap: its time, the bytes it allocated and its result.</summary>
    private static (double Seconds, long Bytes, long Result) RunOnce(Func<long> body)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var watch = Stopwatch.StartNew();
        var result = body();
        watch.Stop();
        return (watch.Elapsed.TotalSeconds, GC.GetTotalAllocatedBytes(precise: true) - before, result);
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static (double Seconds, long Bytes, long Result) Measure(Func<long> body, int runs)
    {
        // Warm-up: the page cache, and the JIT's tiering. Methods reach their final code only after
        // they have run a while (tier 0, then instrumented, then optimized with the profile, in the
        // background), so one run leaves later runs still changing: warm up for a second and at
        // least three runs.
        var result = 0L;
        var warmUp = Stopwatch.StartNew();
        for (var w = 0; w < 3 || warmUp.Elapsed < TimeSpan.FromSeconds(1); w++)
        {
            result = body();
        }

        var seconds = new double[runs];
        var bytes = new long[runs];
        for (var r = 0; r < runs; r++)
        {
            (seconds[r], bytes[r], result) = RunOnce(body);
        }

        Array.Sort(seconds);
        Array.Sort(bytes);
        return (seconds[runs / 2], bytes[runs / 2], result);
    }

    private static long CountRawEvents(string path)
    {
        var visitor = new CountingVisitor();
        using var reader = TraceReader.OpenFile(path);
        reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
        return visitor.Events;
    }

    private static long WriteJson(string path)
    {
        using var writer = new JsonLinesWriter(Stream.Null, new TimeOrigin(DateTimeOffset.UnixEpoch, 0), leaveOpen: true);
        TraceReplay.Syscalls(path).ForEachAsync(writer.Write).GetAwaiter().GetResult();
        writer.Flush();
        return writer.LinesWritten;
    }

    private sealed class CountingVisitor : ITraceVisitor
    {
        public long Events { get; private set; }

        public void OnEvent(in TraceEventView e) => Events++;

        public void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
        {
        }
    }
}
