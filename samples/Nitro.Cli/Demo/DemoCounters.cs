using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Demo;

/// <summary>
/// Counts calls for the demo view. <see cref="Add"/> runs on the listener thread while a vCPU is
/// paused, so it only bumps counters under an uncontended lock (no allocation per call beyond a new
/// dictionary key); the view thread takes a <see cref="Snapshot"/> a few times per second.
/// </summary>
internal sealed class DemoCounters : IObserver<Syscall>
{
    public const int RecentCalls = 8;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<(int Pid, string Name), long> _byProcess = [];
    private readonly Syscall?[] _recent = new Syscall?[RecentCalls];
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _calls;
    private long _entries;
    private long _next;

    /// <summary>Gets a task that completes when the stream ends (faulted if it failed).</summary>
    public Task Done => _done.Task;

    public long Calls => Interlocked.Read(ref _calls);

    public void Add(Syscall call)
    {
        lock (_gate)
        {
            _calls++;
            if (call.Direction == SyscallDirection.Enter)
            {
                _entries++;
            }

            Bump(_byName, call.Name);
            var process = (call.Process?.Pid ?? -1, call.Process?.Name ?? "?");
            Bump(_byProcess, process);
            _recent[_next++ % RecentCalls] = call;
        }
    }

    public DemoSnapshot Snapshot(int top)
    {
        lock (_gate)
        {
            var recent = new List<Syscall>(RecentCalls);
            for (var i = Math.Max(0, _next - RecentCalls); i < _next; i++)
            {
                recent.Add(_recent[i % RecentCalls]!);
            }

            return new DemoSnapshot(
                _calls,
                _entries,
                Top(_byName, top, static name => name),
                Top(_byProcess, top, static p => p.Pid < 0 ? p.Name : $"{p.Name} [{p.Pid}]"),
                _byName.Count,
                _byProcess.Count,
                recent);
        }
    }

    void IObserver<Syscall>.OnNext(Syscall value) => Add(value);

    void IObserver<Syscall>.OnError(Exception error) => _done.TrySetException(error);

    void IObserver<Syscall>.OnCompleted() => _done.TrySetResult();

    private static void Bump<TKey>(Dictionary<TKey, long> counts, TKey key)
        where TKey : notnull
    {
        System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(counts, key, out _)++;
    }

    private static List<(string Name, long Count)> Top<TKey>(Dictionary<TKey, long> counts, int top, Func<TKey, string> label)
        where TKey : notnull
    {
        var all = new List<(string Name, long Count)>(counts.Count);
        foreach (var (key, count) in counts)
        {
            all.Add((label(key), count));
        }

        all.Sort(static (a, b) => b.Count != a.Count ? b.Count.CompareTo(a.Count) : string.CompareOrdinal(a.Name, b.Name));
        return all.Count > top ? all.GetRange(0, top) : all;
    }
}

/// <summary>The demo counters at one moment.</summary>
internal sealed record DemoSnapshot(
    long Calls,
    long Entries,
    IReadOnlyList<(string Name, long Count)> BySyscall,
    IReadOnlyList<(string Name, long Count)> ByProcess,
    int DistinctSyscalls,
    int DistinctProcesses,
    IReadOnlyList<Syscall> Recent);

/// <summary>Counters of the machinery under the demo: the listener's traps and the back end's statistics (none when replaying).</summary>
internal readonly record struct DemoGauges(long? Traps, long? Events, long? MemoryErrors, long? Dropped);
