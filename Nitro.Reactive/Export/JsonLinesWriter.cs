using System.Buffers;
using System.Text;
using Nitro.Reactive.Export.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Export;

/// <summary>
/// Writes system calls as JSON Lines: one <see cref="SyscallJson"/> object per line, UTF-8,
/// each line ended by <c>\n</c>. Output is buffered; call <see cref="Flush"/> (or dispose) to push it
/// to the destination, or set <see cref="AutoFlush"/> to push every line. Not thread-safe: call it
/// from one thread at a time (an Rx observer is, by contract).
/// </summary>
/// <remarks>
/// Each line is byte for byte what <see cref="SyscallJson.Write"/> produces for the call, written
/// without a <see cref="System.Text.Json.Utf8JsonWriter"/> on the common path. The writer keeps the
/// formatted JSON of objects that cannot change (a replayed call's process and decoded values,
/// which the trace reader shares between calls; call names) by reference and copies it for later
/// calls; processes and decoded values a live back end builds are formatted every time.
/// A call that fails while being written (for example a decoded value whose <see cref="object.ToString"/>
/// throws) leaves no partial line behind: the line is discarded and the exception propagates.
/// When the destination fails, the buffered lines are discarded with it and the exception propagates.
/// </remarks>
public sealed class JsonLinesWriter : IDisposable
{
    private const int DrainThreshold = 64 * 1024;

    private readonly Stream? _stream;
    private readonly TextWriter? _text;
    private readonly IBufferWriter<byte>? _output;
    private readonly bool _leaveOpen;
    private readonly JsonLineBuffer _line = new();
    private readonly SyscallLineFormatter _formatter;
    private bool _disposed;

    /// <summary>Initializes a writer to a byte stream.</summary>
    /// <param name="stream">The destination (a file, a pipe, a network stream).</param>
    /// <param name="origin">Converts event timestamps to wall-clock time.</param>
    /// <param name="leaveOpen"><see langword="true"/> to leave <paramref name="stream"/> open when this writer is disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not writable.</exception>
    public JsonLinesWriter(Stream stream, TimeOrigin origin, bool leaveOpen = false)
        : this(origin, leaveOpen)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream for JSON Lines output is not writable; open it for writing.", nameof(stream));
        }

        _stream = stream;
    }

    /// <summary>Initializes a writer to a text writer (for example <see cref="Console.Out"/>).</summary>
    /// <param name="writer">The destination.</param>
    /// <param name="origin">Converts event timestamps to wall-clock time.</param>
    /// <param name="leaveOpen"><see langword="true"/> to leave <paramref name="writer"/> open when this writer is disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="writer"/> is <see langword="null"/>.</exception>
    public JsonLinesWriter(TextWriter writer, TimeOrigin origin, bool leaveOpen = false)
        : this(origin, leaveOpen)
    {
        _text = writer ?? throw new ArgumentNullException(nameof(writer));
    }

    /// <summary>
    /// Initializes a writer to a buffer writer (for example a <see cref="System.IO.Pipelines.PipeWriter"/>).
    /// Every complete line is copied to <paramref name="output"/> as soon as it is written; committing
    /// or flushing <paramref name="output"/> is the caller's business.
    /// </summary>
    /// <param name="output">The destination.</param>
    /// <param name="origin">Converts event timestamps to wall-clock time.</param>
    /// <exception cref="ArgumentNullException"><paramref name="output"/> is <see langword="null"/>.</exception>
    public JsonLinesWriter(IBufferWriter<byte> output, TimeOrigin origin)
        : this(origin, leaveOpen: true)
    {
        _output = output ?? throw new ArgumentNullException(nameof(output));
    }

    private JsonLinesWriter(TimeOrigin origin, bool leaveOpen)
    {
        Origin = origin;
        _leaveOpen = leaveOpen;
        _formatter = new SyscallLineFormatter(origin);
    }

    /// <summary>Gets the time origin used to convert event timestamps.</summary>
    public TimeOrigin Origin { get; }

    /// <summary>Gets or sets a value indicating whether every line is pushed to the destination (and the destination flushed) as soon as it is written.</summary>
    public bool AutoFlush { get; set; }

    /// <summary>Gets the number of lines written so far.</summary>
    public long LinesWritten { get; private set; }

    /// <summary>Writes one system call as one line.</summary>
    /// <param name="syscall">The call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="syscall"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The writer is disposed.</exception>
    /// <exception cref="IOException">The destination failed.</exception>
    public void Write(Syscall syscall)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        ObjectDisposedException.ThrowIf(_disposed, this);

        var start = _line.Length;
        try
        {
            _formatter.Write(_line, syscall);
        }
        catch
        {
            _formatter.Reset();
            _line.Truncate(start);
            throw;
        }

        _line.Append((byte)'\n');
        LinesWritten++;

        if (AutoFlush)
        {
            Flush();
        }
        else if (_output is not null || _line.Length >= DrainThreshold)
        {
            Drain();
        }
    }

    /// <summary>Pushes buffered lines to the destination and flushes it (a stream or text writer; a buffer writer is left to the caller).</summary>
    /// <exception cref="ObjectDisposedException">The writer is disposed.</exception>
    /// <exception cref="IOException">The destination failed.</exception>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Drain();
        _stream?.Flush();
        _text?.Flush();
    }

    /// <summary>Flushes buffered lines, then closes the destination unless it was to be left open.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            Flush();
        }
        finally
        {
            _disposed = true;
            _line.Dispose();
            if (!_leaveOpen)
            {
                _stream?.Dispose();
                _text?.Dispose();
            }
        }
    }

    private void Drain()
    {
        var bytes = _line.WrittenSpan;
        if (bytes.IsEmpty)
        {
            return;
        }

        try
        {
            if (_stream is not null)
            {
                _stream.Write(bytes);
            }
            else if (_text is not null)
            {
                WriteText(_text, bytes);
            }
            else
            {
                _output!.Write(bytes);
            }
        }
        finally
        {
            // A destination that failed is in an unknown state: retrying could repeat half a line.
            _line.Truncate(0);
        }
    }

    private static void WriteText(TextWriter text, ReadOnlySpan<byte> bytes)
    {
        var chars = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(bytes.Length));
        try
        {
            var count = Encoding.UTF8.GetChars(bytes, chars);
            text.Write(chars.AsSpan(0, count));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}
