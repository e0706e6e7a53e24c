using System.Collections.Frozen;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Runtime.ExceptionServices;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording;

/// <summary>
/// Replays a recorded trace as Rx streams: raw events, or decoded system calls rebuilt with
/// their events, processes and decoded arguments (no guest memory: pointer arguments cannot be
/// followed).
/// </summary>
/// <remarks>
/// Each subscription reads the trace once. Every intact record is delivered before a
/// <see cref="TraceFormatException"/> ends the stream with <c>OnError</c>. Disposing the
/// subscription stops reading at the next record and closes the file.
/// </remarks>
public static class TraceReplay
{
    /// <summary>Replays the raw events of a trace file.</summary>
    /// <param name="path">The trace file.</param>
    /// <param name="options">Pacing; as fast as possible when <see langword="null"/>.</param>
    /// <returns>The events; the file is opened on subscription and closed at the end or on disposal.</returns>
    public static IObservable<NitroEvent> Events(string path, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Replay(() => TraceReader.OpenFile(path, options?.ReadAhead ?? true), options, static () => new EventReplayVisitor());
    }

    /// <summary>Replays the raw events of a trace read from a stream, which stays open (the caller owns it).</summary>
    /// <param name="stream">The trace, positioned at its first byte; read once.</param>
    /// <param name="options">Pacing; as fast as possible when <see langword="null"/>.</param>
    /// <returns>The events.</returns>
    public static IObservable<NitroEvent> Events(Stream stream, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Replay(() => TraceReader.Open(stream, options?.FileName, leaveOpen: true), options, static () => new EventReplayVisitor());
    }

    /// <summary>Replays the decoded system calls of a trace file.</summary>
    /// <param name="path">The trace file.</param>
    /// <param name="options">Pacing; as fast as possible when <see langword="null"/>.</param>
    /// <returns>The system calls; the file is opened on subscription and closed at the end or on disposal.</returns>
    public static IObservable<Syscall> Syscalls(string path, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new SyscallReplayObservable(() => TraceReader.OpenFile(path, options?.ReadAhead ?? true), CheckOptions(options), names: null);
    }

    /// <summary>Replays the decoded system calls of a trace read from a stream, which stays open (the caller owns it).</summary>
    /// <param name="stream">The trace, positioned at its first byte; read once.</param>
    /// <param name="options">Pacing; as fast as possible when <see langword="null"/>.</param>
    /// <returns>The system calls.</returns>
    public static IObservable<Syscall> Syscalls(Stream stream, ReplayOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new SyscallReplayObservable(() => TraceReader.Open(stream, options?.FileName, leaveOpen: true), CheckOptions(options), names: null);
    }

    private static ReplayOptions? CheckOptions(ReplayOptions? options) =>
        options is not null && !(options.Speed > 0 && double.IsFinite(options.Speed))
            ? throw new ArgumentOutOfRangeException(nameof(options), options.Speed, "The replay speed must be a positive finite factor.")
            : options;

    private static IObservable<T> Replay<T>(Func<TraceReader> open, ReplayOptions? options, Func<ReplayVisitor<T>> createVisitor) =>
        Replay(open, CheckOptions(options), createVisitor, names: null);

    /// <summary>The replay itself; <paramref name="names"/> is a fused <c>WhereSyscall</c> (fast replay only).</summary>
    internal static IObservable<T> Replay<T>(Func<TraceReader> open, ReplayOptions? options, Func<ReplayVisitor<T>> createVisitor, FrozenSet<string>? names)
    {
        return Observable.Create<T>(async (observer, cancellationToken) =>
        {
            var reader = open();
            await using (reader)
            {
                if (names is not null)
                {
                    reader.NameFilter = new SyscallNameFilter(names, cancellationToken);
                }

                var visitor = createVisitor();
                visitor.CancellationToken = cancellationToken;
                if (options?.Scheduler is { } scheduler)
                {
                    await ReplayTimedAsync(reader, visitor, observer, scheduler, options.Speed, cancellationToken);
                }
                else
                {
                    // Leave Subscribe before reading, so that a downstream Take or Dispose can cancel the read.
                    await Task.Yield();
                    visitor.Observer = observer;
                    await reader.ReadToEndAsync(visitor, cancellationToken);
                }
            }
        });
    }

    private static async Task ReplayTimedAsync<T>(
        TraceReader reader, ReplayVisitor<T> visitor, IObserver<T> observer, IScheduler scheduler, double speed, CancellationToken cancellationToken)
    {
        var pending = new List<(T Item, long Timestamp)>();
        visitor.Pending = pending;
        DateTimeOffset start = default;
        long first = 0;
        var started = false;
        var more = true;
        while (more)
        {
            pending.Clear();
            ExceptionDispatchInfo? failure = null;
            try
            {
                more = await reader.ReadBlockAsync(visitor, cancellationToken);
            }
            catch (TraceFormatException ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
                more = false;
            }

            foreach (var (item, timestamp) in pending)
            {
                if (!started)
                {
                    started = true;
                    start = scheduler.Now;
                    first = timestamp;
                }

                var due = start + TimeSpan.FromTicks((long)((timestamp - first) / (100.0 * speed)));
                if (due > scheduler.Now)
                {
                    await scheduler.Sleep(due, cancellationToken);
                }

                cancellationToken.ThrowIfCancellationRequested();
                observer.OnNext(item);
            }

            failure?.Throw();
        }
    }
}
