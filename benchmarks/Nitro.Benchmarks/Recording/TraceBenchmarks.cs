using System.Buffers;
using System.IO.Pipelines;
using System.Reactive.Linq;
using BenchmarkDotNet.Attributes;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Recording;

/// <summary>
/// (a) Decoding raw events through the zero-allocation visitor API; (b) replaying decoded
/// syscalls through Rx with a Where + Count. Results are per event (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class TraceBenchmarks
{
    private const int RawEvents = 1_000_000;
    private const int SyscallRecords = 500_000;

    private byte[] _rawTrace = [];
    private byte[] _syscallTrace = [];

    [GlobalSetup]
    public void Setup()
    {
        _rawTrace = BuildRawTrace();
        _syscallTrace = BuildSyscallTrace();
    }

    [Benchmark(OperationsPerInvoke = RawEvents)]
    public long DecodeRawEvents_InMemorySequence()
    {
        var visitor = new SumVisitor();
        using var reader = new TraceReader(PipeReader.Create(new ReadOnlySequence<byte>(_rawTrace)));
        reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
        return visitor.Sum;
    }

    [Benchmark(OperationsPerInvoke = RawEvents)]
    public long DecodeRawEvents_StreamPipeReader()
    {
        var visitor = new SumVisitor();
        using var reader = TraceReader.Open(new MemoryStream(_rawTrace, writable: false));
        reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
        return visitor.Sum;
    }

    [Benchmark(OperationsPerInvoke = SyscallRecords)]
    public long DecodeSyscallRecords_Visitor()
    {
        var visitor = new SumVisitor();
        using var reader = new TraceReader(PipeReader.Create(new ReadOnlySequence<byte>(_syscallTrace)));
        reader.ReadToEndAsync(visitor).AsTask().GetAwaiter().GetResult();
        return visitor.Sum;
    }

    [Benchmark(OperationsPerInvoke = SyscallRecords)]
    public int ReplaySyscalls_WhereOpenatOrRead_Count()
    {
        using var stream = new MemoryStream(_syscallTrace, writable: false);
        return TraceReplay.Syscalls(stream)
            .Where(s => string.Equals(s.Name, "openat", StringComparison.Ordinal) || string.Equals(s.Name, "read", StringComparison.Ordinal))
            .Count()
            .Wait();
    }

    [Benchmark(OperationsPerInvoke = SyscallRecords)]
    public int ReplaySyscalls_WhereSyscall_Count()
    {
        using var stream = new MemoryStream(_syscallTrace, writable: false);
        return TraceReplay.Syscalls(stream).WhereSyscall("openat", "read").Count().Wait();
    }

    private static byte[] BuildRawTrace()
    {
        var rng = new Random(1);
        var sregs = new SpecialRegisters[4];
        for (var v = 0; v < sregs.Length; v++)
        {
            rng.NextBytes(SpecialRegisters.AsBytes(ref sregs[v]));
        }

        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, new TraceWriterOptions { LeaveOpen = true }))
        {
            Registers regs = default;
            for (var i = 0; i < RawEvents; i++)
            {
                var vcpu = i & 3;
                if (rng.Next(100) == 0)
                {
                    sregs[vcpu].Cr3 = (ulong)rng.NextInt64();
                }

                rng.NextBytes(Registers.AsBytes(ref regs));
                writer.WriteEvent(new NitroEvent(vcpu, (SyscallDirection)(i & 1), SyscallMechanism.Syscall, regs, sregs[vcpu], 1_000_000L + (i * 500L)));
            }
        }

        return stream.ToArray();
    }

    private static byte[] BuildSyscallTrace()
    {
        string[] names = ["openat", "read", "write", "close", "mmap", "futex", "fstat", "poll"];
        var rng = new Random(2);
        var processes = new Process[16];
        for (var p = 0; p < processes.Length; p++)
        {
            processes[p] = new Process(1000 + p, $"proc{p}", 1, new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["tgid"] = 1000L + p,
                ["path"] = $"/usr/bin/proc{p}",
            });
        }

        SpecialRegisters sregs = default;
        rng.NextBytes(SpecialRegisters.AsBytes(ref sregs));
        using var stream = new MemoryStream();
        using (var writer = new TraceWriter(stream, new TraceWriterOptions { LeaveOpen = true }))
        {
            Registers regs = default;
            for (var i = 0; i < SyscallRecords; i++)
            {
                rng.NextBytes(Registers.AsBytes(ref regs));
                var e = new NitroEvent(i & 1, (SyscallDirection)((i >> 1) & 1), SyscallMechanism.Syscall, regs, sregs, 1_000_000L + (i * 500L));
                var name = names[rng.Next(names.Length)];
                IReadOnlyDictionary<string, object?>? decoded = name switch
                {
                    "openat" => new Dictionary<string, object?>(StringComparer.Ordinal) { ["dfd"] = -100L, ["filename"] = "/etc/ld.so.cache" },
                    "read" => new Dictionary<string, object?>(StringComparer.Ordinal) { ["fd"] = 3L, ["count"] = 832UL },
                    _ => null,
                };
                writer.WriteSyscall(new Syscall(e, i % 300, name, "__x64_sys_" + name, processes[rng.Next(processes.Length)],
                    new ArgumentMap(e, CallingConvention.LinuxX64, null), 5000 + (i % 7), decoded));
            }
        }

        return stream.ToArray();
    }

    private sealed class SumVisitor : ITraceVisitor
    {
        public long Sum { get; private set; }

        public void OnEvent(in TraceEventView e) => Sum += (long)e.Registers.Rax + (long)e.SpecialRegisters.Cr3;

        public void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall) => Sum++;
    }
}
