using System.Reactive.Concurrency;
using System.Reactive.Linq;

namespace Nitro.Reactive.Statistics;

/// <summary>
/// Thread-safe counters of a tracing pipeline: raw events seen, system calls produced, hooks run
/// and failed, guest memory errors, and events dropped by a decoupling buffer. Readable at any
/// time with <see cref="Snapshot"/> and as an observable with <see cref="Sample"/>.
/// </summary>
public sealed class NitroStatistics
{
    private long _events;
    private long _syscalls;
    private long _hooksRun;
    private long _hooksFailed;
    private long _memoryErrors;
    private long _dropped;

    /// <summary>Counts one raw event.</summary>
    public void AddEvent() => Interlocked.Increment(ref _events);

    /// <summary>Counts one decoded system call.</summary>
    public void AddSyscall() => Interlocked.Increment(ref _syscalls);

    /// <summary>Counts one hook invocation and whether it failed.</summary>
    /// <param name="failed">Whether the hook threw.</param>
    public void AddHookRun(bool failed)
    {
        Interlocked.Increment(ref _hooksRun);
        if (failed)
        {
            Interlocked.Increment(ref _hooksFailed);
        }
    }

    /// <summary>Counts one guest memory error met while decoding.</summary>
    public void AddMemoryError() => Interlocked.Increment(ref _memoryErrors);

    /// <summary>Counts one event dropped by a full buffer.</summary>
    public void AddDropped() => Interlocked.Increment(ref _dropped);

    /// <summary>Reads all counters.</summary>
    /// <returns>The current values.</returns>
    public StatisticsSnapshot Snapshot() => new(
        Interlocked.Read(ref _events),
        Interlocked.Read(ref _syscalls),
        Interlocked.Read(ref _hooksRun),
        Interlocked.Read(ref _hooksFailed),
        Interlocked.Read(ref _memoryErrors),
        Interlocked.Read(ref _dropped));

    /// <summary>Publishes a snapshot every <paramref name="period"/>.</summary>
    /// <param name="period">How often.</param>
    /// <param name="scheduler">The scheduler for the timer; the default scheduler when <see langword="null"/>.</param>
    /// <returns>An observable of snapshots that never completes.</returns>
    public IObservable<StatisticsSnapshot> Sample(TimeSpan period, IScheduler? scheduler = null) =>
        Observable.Interval(period, scheduler ?? DefaultScheduler.Instance).Select(_ => Snapshot());
}

/// <summary>The counters of a <see cref="NitroStatistics"/> at one moment.</summary>
/// <param name="Events">Raw events seen.</param>
/// <param name="Syscalls">System calls produced.</param>
/// <param name="HooksRun">Hook invocations.</param>
/// <param name="HooksFailed">Hook invocations that threw.</param>
/// <param name="MemoryErrors">Guest memory errors met while decoding.</param>
/// <param name="Dropped">Events dropped by a full buffer.</param>
public readonly record struct StatisticsSnapshot(
    long Events,
    long Syscalls,
    long HooksRun,
    long HooksFailed,
    long MemoryErrors,
    long Dropped);
