using System.Diagnostics;

namespace Nitro.Reactive.Events;

/// <summary>
/// The host's monotonic clock in nanoseconds, the time base of <see cref="NitroEvent.Timestamp"/>.
/// Its origin is arbitrary; only differences are meaningful.
/// </summary>
public static class MonotonicClock
{
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>Gets the current monotonic time in nanoseconds.</summary>
    public static long Now => (long)(Stopwatch.GetTimestamp() * s_nanosecondsPerTick);
}
