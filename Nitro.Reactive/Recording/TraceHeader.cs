using System.Globalization;

namespace Nitro.Reactive.Recording;

/// <summary>
/// The file header of a trace: format version, flags and the guest metadata, with the clock
/// origin that turns event timestamps into wall-clock time.
/// </summary>
public sealed class TraceHeader
{
    internal TraceHeader(ushort version, ushort flags, int length, IReadOnlyDictionary<string, string> metadata, DateTimeOffset createdUtc, long monotonicOrigin)
    {
        Version = version;
        Flags = flags;
        Length = length;
        Metadata = metadata;
        CreatedUtc = createdUtc;
        MonotonicOrigin = monotonicOrigin;
    }

    /// <summary>Gets the format version the file was written with.</summary>
    public ushort Version { get; }

    /// <summary>Gets the header flags (none are defined in version 1).</summary>
    public ushort Flags { get; }

    /// <summary>Gets the header length in bytes; the first block starts here.</summary>
    public int Length { get; }

    /// <summary>Gets every metadata entry (<c>os</c>, <c>kernel</c>, <c>vcpus</c>, <c>source</c>, <c>created-utc</c>, <c>monotonic-origin-ns</c>, and any extra the writer added).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Gets the wall-clock time (UTC) at which the recording started.</summary>
    public DateTimeOffset CreatedUtc { get; }

    /// <summary>Gets the monotonic clock reading, in nanoseconds, taken at <see cref="CreatedUtc"/>.</summary>
    public long MonotonicOrigin { get; }

    /// <summary>Gets the guest operating system, when recorded.</summary>
    public string? Os => Metadata.GetValueOrDefault(TraceFormat.Keys.Os);

    /// <summary>Gets the guest kernel, when recorded.</summary>
    public string? Kernel => Metadata.GetValueOrDefault(TraceFormat.Keys.Kernel);

    /// <summary>Gets where the events came from (listener, machine name), when recorded.</summary>
    public string? Source => Metadata.GetValueOrDefault(TraceFormat.Keys.Source);

    /// <summary>Gets the number of vCPUs of the guest, when recorded.</summary>
    public int? Vcpus =>
        Metadata.TryGetValue(TraceFormat.Keys.Vcpus, out var text) && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>Gets the pairing of wall-clock and monotonic time the trace was recorded with.</summary>
    public Export.TimeOrigin Origin => new(CreatedUtc, MonotonicOrigin);

    /// <summary>Converts an event timestamp (monotonic nanoseconds) into wall-clock time.</summary>
    /// <param name="monotonicNanoseconds">A <see cref="Events.NitroEvent.Timestamp"/> from this trace.</param>
    /// <returns>The UTC wall-clock time of the event, to 100 ns.</returns>
    public DateTimeOffset ToWallClock(long monotonicNanoseconds) => Origin.ToWallClock(monotonicNanoseconds);
}
