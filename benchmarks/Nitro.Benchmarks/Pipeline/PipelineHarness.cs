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
                ("(i) (c) with the file read inline, no read-ahead", () => TraceReplay.Syscalls(path, new ReplayOptions { ReadAhead = false }).WhereSyscall("openat", "read").Count().Wait()),
            ];

            if (pairs > 0)
            {
                RunPairs(cases[0].Body, cases[3].Body, cases[7].Body, calls, pairs);
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
        Console.WriteLine($"| {"pipeline",-52} | {"events/s",12} | {"ns/event",9} | {"CPU ns/event",12} | {"B/event",8} | {"result",10} |");
        Console.WriteLine($"|{new string('-', 54)}|{new string('-', 13)}:|{new string('-', 10)}:|{new string('-', 13)}:|{new string('-', 9)}:|{new string('-', 11)}:|");
        var rates = new double[cases.Length];
        for (var c = 0; c < cases.Length; c++)
        {
            var (name, body) = cases[c];
            if (rows is not null && !rows.Contains(name[1], StringComparison.Ordinal))
            {
                continue;
            }

            var (seconds, cpu, bytes, result) = Measure(body, runs);
            rates[c] = calls / seconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name,-52} | {calls / seconds,12:N0} | {seconds * 1e9 / calls,9:F0} | {cpu * 1e9 / calls,12:F0} | {(double)bytes / calls,8:F0} | {result,10:N0} |"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(c) / (h) = {(rates[0] > 0 ? rates[3] / rates[0] : double.NaN):F2} (target >= 0.5); load after: {LoadAverage()}"));
    }

    /// <summary>
    /// The target's ratio (c) / (h) from runs of the two taken side by side: each round runs (h),
    /// (c) and (i), (c) without the read-ahead, one right after the other, in rotating order, so that
    /// a drift of the machine's speed (other tenants, frequency) hits all alike and cancels in that
    /// round's ratios.
    /// </summary>
    private static void RunPairs(Func<long> hand, Func<long> replay, Func<long> inline, int calls, int pairs)
    {
        Console.WriteLine($"load before: {LoadAverage()}");
        Func<long>[] bodies = [hand, replay, inline];
        var counts = bodies.Select(body => Measure(body, 1).Result).ToArray();
        if (counts.Distinct().Count() != 1)
        {
            throw new InvalidOperationException($"pipeline: (h), (c) and (i) counted {string.Join(", ", counts)} calls; the pairs would compare different work.");
        }

        var runs = new (double Seconds, double Cpu)[pairs, bodies.Length];
        for (var p = 0; p < pairs; p++)
        {
            for (var k = 0; k < bodies.Length; k++)
            {
                var b = (p + k) % bodies.Length;
                var (seconds, cpu, _, _) = RunOnce(bodies[b]);
                runs[p, b] = (seconds, cpu);
            }
        }

        string Median(Func<int, double> of, string format = "F1")
        {
            var values = Enumerable.Range(0, pairs).Select(of).Order().ToArray();
            string At(int index) => values[index].ToString(format, CultureInfo.InvariantCulture);
            return $"median {At(pairs / 2)}, quartiles {At(pairs / 4)} … {At(pairs * 3 / 4)}, range {At(0)} … {At(pairs - 1)}";
        }

        Console.WriteLine($"{pairs} rounds, ns per call:");
        Console.WriteLine($"  (h) wall {Median(p => runs[p, 0].Seconds * 1e9 / calls)}; CPU {Median(p => runs[p, 0].Cpu * 1e9 / calls)}");
        Console.WriteLine($"  (c) wall {Median(p => runs[p, 1].Seconds * 1e9 / calls)}; CPU {Median(p => runs[p, 1].Cpu * 1e9 / calls)}");
        Console.WriteLine($"  (i) wall {Median(p => runs[p, 2].Seconds * 1e9 / calls)}; CPU {Median(p => runs[p, 2].Cpu * 1e9 / calls)}");
        Console.WriteLine("ratios per round (CPU: all threads of the process, the read-ahead's and the GC's included):");
        Console.WriteLine($"  (c) / (h) wall {Median(p => runs[p, 0].Seconds / runs[p, 1].Seconds, "F3")} (target >= 0.5)");
        Console.WriteLine($"  (c) / (h) CPU  {Median(p => runs[p, 0].Cpu / runs[p, 1].Cpu, "F3")}");
        Console.WriteLine($"  (i) / (h) wall {Median(p => runs[p, 0].Seconds / runs[p, 2].Seconds, "F3")}");
        Console.WriteLine($"  (i) / (h) CPU  {Median(p => runs[p, 0].Cpu / runs[p, 2].Cpu, "F3")}");
        Console.WriteLine($"load after: {LoadAverage()}");
    }

    /// <summary>
    /// One measured run, from a collected heap: its wall time, the CPU time of all the process's
    /// threads over it (a read-ahead thread's included, and the GC's), the bytes it allocated and its result.
    /// </summary>
    private static (double Seconds, double Cpu, long Bytes, long Result) RunOnce(Func<long> body)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var watch = Stopwatch.StartNew();
        var result = body();
        watch.Stop();
        var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds;
        return (watch.Elapsed.TotalSeconds, cpu, GC.GetTotalAllocatedBytes(precise: true) - before, result);
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

    private static (double Seconds, double Cpu, long Bytes, long Result) Measure(Func<long> body, int runs)
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
        var cpu = new double[runs];
        var bytes = new long[runs];
        for (var r = 0; r < runs; r++)
        {
            (seconds[r], cpu[r], bytes[r], result) = RunOnce(body);
        }

        Array.Sort(seconds);
        Array.Sort(cpu);
        Array.Sort(bytes);
        return (seconds[runs / 2], cpu[runs / 2], bytes[runs / 2], result);
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
