using System.Reactive;
using System.Reactive.Linq;
using System.Runtime.ExceptionServices;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Testing.Recording;

/// <summary>
/// Plays a recorded trace file on Microsoft's <see cref="TestScheduler"/> in the trace's own time, so a
/// rule with time windows (<c>Throttle</c>, <c>Buffer</c>, <c>Timer</c> …) sees the gaps the guest made,
/// and a test runs in microseconds whatever the trace spans.
/// </summary>
/// <remarks>
/// The trace is read once, when the observable is made, with <see cref="TraceReplay"/>. The result is a
/// cold observable: each subscription receives the first record at the subscription (one tick later, as
/// Microsoft's scheduler runs work scheduled "now"), each later record after its recorded gap from the
/// first — event timestamps are nanoseconds, one scheduler tick is 100 ns — and <c>OnCompleted</c> with
/// the last record. A record whose timestamp is earlier than the one before it (another vCPU's clock)
/// keeps its place in the file and arrives at the same time as the one before it. A damaged trace ends,
/// after its intact records, with the <see cref="TraceFormatException"/> as <c>OnError</c>.
/// <see cref="ITestableObservable{T}.Messages"/> holds the timed records, relative to the subscription.
/// </remarks>
public static class TestSchedulerReplayExtensions
{
    /// <summary>Creates a cold observable that replays the decoded system calls of a trace file in recorded virtual time.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="path">The trace file.</param>
    /// <returns>The observable; it records its subscriptions.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ITestableObservable<Syscall> ReplaySyscalls(this TestScheduler scheduler, string path)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(path);
        return scheduler.CreateColdObservable(Timed(TraceReplay.Syscalls(path), static call => call.Timestamp));
    }

    /// <summary>Creates a cold observable that replays the raw events of a trace file in recorded virtual time.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="path">The trace file.</param>
    /// <returns>The observable; it records its subscriptions.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ITestableObservable<NitroEvent> ReplayEvents(this TestScheduler scheduler, string path)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(path);
        return scheduler.CreateColdObservable(Timed(TraceReplay.Events(path), static @event => @event.Timestamp));
    }

    private static Recorded<Notification<T>>[] Timed<T>(IObservable<T> replay, Func<T, long> timestamp)
    {
        // A missing file is the caller's mistake, not a trace that ends in an error: let it throw here.
        var notifications = replay.Materialize().ToList().Wait();
        var messages = new Recorded<Notification<T>>[notifications.Count];
        long? first = null;
        var time = 0L;
        for (var i = 0; i < notifications.Count; i++)
        {
            var notification = notifications[i];
            if (notification.Kind == NotificationKind.OnError && notification.Exception is FileNotFoundException or DirectoryNotFoundException)
            {
                ExceptionDispatchInfo.Throw(notification.Exception);
            }

            if (notification.Kind == NotificationKind.OnNext)
            {
                var nanoseconds = timestamp(notification.Value);
                first ??= nanoseconds;
                time = Math.Max(time, (nanoseconds - first.Value) / 100);
            }

            messages[i] = new Recorded<Notification<T>>(time, notification);
        }

        return messages;
    }
}
