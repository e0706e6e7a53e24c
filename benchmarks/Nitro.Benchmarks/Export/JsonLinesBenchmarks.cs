using System.Reactive.Linq;
using BenchmarkDotNet.Attributes;
using Nitro.Benchmarks.Pipeline;
using Nitro.Reactive.Export;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Export;

/// <summary>
/// JSON Lines formatting alone: 4,096 calls of the pipeline harness's synthetic trace, replayed
/// once into a list, written to <see cref="Stream.Null"/> (per call).
/// </summary>
[MemoryDiagnoser]
public class JsonLinesBenchmarks
{
    private const int Calls = 4096;

    private Syscall[] _replayed = [];
    private JsonLinesWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-json-bench-{Environment.ProcessId}.trace");
        try
        {
            SyntheticTrace.Write(path, Calls);
            _replayed = [.. TraceReplay.Syscalls(path).ToEnumerable()];
        }
        finally
        {
            File.Delete(path);
        }

        _writer = new JsonLinesWriter(Stream.Null, new TimeOrigin(DateTimeOffset.UnixEpoch, 0), leaveOpen: true);
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    /// <summary>The same calls through the public <see cref="SyscallJson.Write"/> on a <see cref="System.Text.Json.Utf8JsonWriter"/> (the writer's old path).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public long WriteReplayedCalls_Utf8JsonWriter()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1 << 20);
        using var json = new System.Text.Json.Utf8JsonWriter(buffer, SyscallJson.WriterOptions);
        var origin = new TimeOrigin(DateTimeOffset.UnixEpoch, 0);
        foreach (var call in _replayed)
        {
            SyscallJson.Write(json, call, origin);
            json.Flush();
            json.Reset();
            buffer.ResetWrittenCount();
        }

        return buffer.WrittenCount;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public long WriteReplayedCalls()
    {
        foreach (var call in _replayed)
        {
            _writer.Write(call);
        }

        return _writer.LinesWritten;
    }
}
