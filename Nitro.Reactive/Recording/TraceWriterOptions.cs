namespace Nitro.Reactive.Recording;

/// <summary>What a <see cref="TraceWriter"/> writes into the header, and how it cuts blocks.</summary>
public sealed class TraceWriterOptions
{
    /// <summary>Gets the guest operating system (for example <c>linux</c>).</summary>
    public string Os { get; init; } = "unknown";

    /// <summary>Gets the guest kernel (for example <c>6.12.48-amd64</c>).</summary>
    public string Kernel { get; init; } = "unknown";

    /// <summary>Gets the number of vCPUs of the guest (0 when unknown).</summary>
    public int Vcpus { get; init; }

    /// <summary>Gets where the events come from (listener and machine).</summary>
    public string Source { get; init; } = "unknown";

    /// <summary>Gets extra metadata entries (keys must not repeat the standard ones).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>
    /// Gets the wall-clock start of the recording; with <see cref="MonotonicOrigin"/> it maps
    /// timestamps to wall-clock time. Both default to "now", read together.
    /// </summary>
    public DateTimeOffset? CreatedUtc { get; init; }

    /// <summary>Gets the monotonic clock reading (ns) taken at <see cref="CreatedUtc"/>.</summary>
    public long? MonotonicOrigin { get; init; }

    /// <summary>
    /// Gets the target block payload size in bytes (default 256 KiB, 256 B … 1 MiB). A block is
    /// closed when the next record would not fit; a single larger record gets a block of its own.
    /// </summary>
    public int BlockSize { get; init; } = 256 * 1024;

    /// <summary>Gets a value indicating whether the stream stays open after the writer completes (stream constructor only).</summary>
    public bool LeaveOpen { get; init; }
}
