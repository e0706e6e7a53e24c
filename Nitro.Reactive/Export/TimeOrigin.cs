using Nitro.Reactive.Events;

namespace Nitro.Reactive.Export;

/// <summary>
/// A wall-clock instant paired with the <see cref="MonotonicClock"/> reading taken at the same
/// moment, so that event timestamps (host monotonic nanoseconds) can be shown as calendar time.
/// Capture one per trace with <see cref="Now"/> and use it for every event of that trace.
/// </summary>
/// <param name="WallClock">The wall-clock time at the pairing instant.</param>
/// <param name="MonotonicNanoseconds">The <see cref="MonotonicClock.Now"/> reading at the same instant.</param>
public readonly record struct TimeOrigin(DateTimeOffset WallClock, long MonotonicNanoseconds)
{
    /// <summary>Captures the current wall-clock time (UTC) and monotonic time as a pair.</summary>
    /// <returns>The pair.</returns>
    public static TimeOrigin Now() => new(DateTimeOffset.UtcNow, MonotonicClock.Now);

    /// <summary>Converts a monotonic timestamp to wall-clock time relative to this origin.</summary>
    /// <param name="timestamp">A <see cref="MonotonicClock"/> reading in nanoseconds, for example <see cref="NitroEvent.Timestamp"/>.</param>
    /// <returns>The wall-clock time, truncated to 100 ns ticks, in UTC.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The result falls outside the range of <see cref="DateTimeOffset"/>.</exception>
    public DateTimeOffset ToWallClock(long timestamp)
    {
        var ticks = Math.DivRem(timestamp - MonotonicNanoseconds, 100, out var remainder);
        if (remainder < 0)
        {
            ticks--; // floor, so that times just before the origin do not round towards it
        }

        return new DateTimeOffset(WallClock.UtcDateTime.AddTicks(ticks), TimeSpan.Zero);
    }
}
