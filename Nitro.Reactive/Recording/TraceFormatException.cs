namespace Nitro.Reactive.Recording;

/// <summary>
/// A trace file is damaged, truncated, or of a version this library cannot read. Everything
/// before <see cref="Offset"/> was read and delivered; nothing at or after it can be trusted.
/// </summary>
public sealed class TraceFormatException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="problem">What is wrong, without the location.</param>
    /// <param name="offset">The absolute byte offset of the damaged header field, block or record.</param>
    /// <param name="fileName">The file, when known.</param>
    public TraceFormatException(string problem, long offset, string? fileName)
        : base(Describe(problem, offset, fileName))
    {
        Problem = problem;
        Offset = offset;
        FileName = fileName;
    }

    /// <summary>Gets the absolute byte offset of the damaged header field, block or record.</summary>
    public long Offset { get; }

    /// <summary>Gets the file name, when the trace was read from a named file.</summary>
    public string? FileName { get; }

    /// <summary>Gets what is wrong, without the location.</summary>
    public string Problem { get; }

    private static string Describe(string problem, long offset, string? fileName) =>
        $"Trace {(fileName is null ? "stream" : $"file '{fileName}'")} is unreadable at byte offset {offset}: {problem}. " +
        "Records before that offset were delivered; re-record the trace or cut it at that offset to keep what is intact.";
}
