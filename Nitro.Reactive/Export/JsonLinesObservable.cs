using System.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Export;

/// <summary>Rx operators that export system call streams.</summary>
public static class JsonLinesObservable
{
    /// <summary>
    /// Writes every system call of <paramref name="source"/> to <paramref name="stream"/> as JSON Lines
    /// (see <see cref="SyscallJson"/>) and passes it on unchanged, so the sink composes in the middle of a query.
    /// </summary>
    /// <remarks>
    /// Each subscription gets its own <see cref="JsonLinesWriter"/>; a line is written before the call is
    /// passed on. Output is flushed to the stream before <c>OnCompleted</c> or <c>OnError</c> is passed on and
    /// when the subscription is disposed. The stream is never closed; it belongs to the caller. Every
    /// subscription appends to the same stream, so subscribe once (or <c>Publish</c>). A failure to write
    /// (an <see cref="IOException"/>) ends the sequence with that error.
    /// </remarks>
    /// <param name="source">The system calls.</param>
    /// <param name="stream">The destination, left open.</param>
    /// <param name="origin">Converts event timestamps to wall-clock time; capture it with <see cref="TimeOrigin.Now"/> when the trace starts.</param>
    /// <param name="autoFlush"><see langword="true"/> to flush the stream after every line (for a live <c>tail -f</c>), at some cost in throughput.</param>
    /// <returns>The same system calls.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> or <paramref name="stream"/> is <see langword="null"/>.</exception>
    public static IObservable<Syscall> WriteJsonLines(this IObservable<Syscall> source, Stream stream, TimeOrigin origin, bool autoFlush = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(stream);
        return Observable.Using(
            () => new Sink(new JsonLinesWriter(stream, origin, leaveOpen: true) { AutoFlush = autoFlush }),
            sink => source.Do(sink.Write, sink.OnError, sink.Flush));
    }

    /// <summary>Serializes writes with the disposal that <c>Using</c> may run on another thread.</summary>
    private sealed class Sink(JsonLinesWriter writer) : IDisposable
    {
        private readonly Lock _gate = new();
        private bool _disposed;

        public void Write(Syscall syscall)
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    writer.Write(syscall);
                }
            }
        }

        public void Flush()
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    writer.Flush();
                }
            }
        }

        public void OnError(Exception error)
        {
            try
            {
                Flush();
            }
            catch (IOException)
            {
                // The source's error is the one to report; the stream failing too adds nothing.
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                try
                {
                    writer.Dispose();
                }
                catch (IOException)
                {
                    // Disposal must not throw; a failing stream was already reported through OnError when it failed.
                }
            }
        }
    }
}
