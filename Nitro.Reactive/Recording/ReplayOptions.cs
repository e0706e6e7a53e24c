using System.Reactive.Concurrency;

namespace Nitro.Reactive.Recording;

/// <summary>How <see cref="TraceReplay"/> paces a recorded trace.</summary>
public sealed class ReplayOptions
{
    /// <summary>
    /// Gets the scheduler that keeps the recorded gaps between events, or <see langword="null"/>
    /// (the default) to replay as fast as possible. Use a virtual-time scheduler in tests
    /// and <see cref="DefaultScheduler.Instance"/> for real time.
    /// </summary>
    public IScheduler? Scheduler { get; init; }

    /// <summary>Gets the speed factor for timed replay: 2 halves every gap, 0.5 doubles it. Must be positive.</summary>
    public double Speed { get; init; } = 1.0;

    /// <summary>
    /// Gets whether a trace file of 2 MiB or more is read ahead (the default; never when the process
    /// has only one processor): a thread-pool thread reads the next megabytes and computes their
    /// block checksums while the replay decodes, so that a replay runs faster when a core is free,
    /// at the price of more CPU time in all (the read-ahead's thread and the decoding one both
    /// touch the file's bytes). Turn it off where many replays share few cores. Streams and
    /// smaller files are read inline either way.
    /// </summary>
    public bool ReadAhead { get; init; } = true;

    /// <summary>Gets the name used in error messages when replaying a stream.</summary>
    public string? FileName { get; init; }

    /// <summary>Creates options that keep the recorded gaps on <paramref name="scheduler"/>.</summary>
    /// <param name="scheduler">The scheduler.</param>
    /// <param name="speed">The speed factor (1 = as recorded).</param>
    /// <returns>The options.</returns>
    public static ReplayOptions Timed(IScheduler scheduler, double speed = 1.0) => new() { Scheduler = scheduler, Speed = speed };
}
