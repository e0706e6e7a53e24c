using System.Buffers;
using System.IO.Pipelines;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// A <see cref="PipeReader"/> over a regular file that reads synchronously into one contiguous
/// buffer. A file read from the page cache is a memory copy: doing it inline avoids the
/// thread-pool hop that <see cref="Stream.ReadAsync(Memory{byte}, CancellationToken)"/> of a
/// synchronous <see cref="FileStream"/> costs per read, and a contiguous buffer means no block
/// straddles two segments. Not for pipes or sockets, where a read may block.
/// </summary>
internal sealed class FilePipeReader : ContiguousPipeReader
{
    private const int ReadSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;

    public FilePipeReader(Stream stream, bool leaveOpen)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        SetWindow(ArrayPool<byte>.Shared.Rent(512 * 1024), 0, 0, isEnd: false);
    }

    public override void Complete(Exception? exception = null)
    {
        if (IsCompleted)
        {
            return;
        }

        IsCompleted = true;
        var buffer = Buffer;
        SetWindow([], 0, 0, isEnd: true);
        ArrayPool<byte>.Shared.Return(buffer);
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    protected override void Fill(CancellationToken cancellationToken)
    {
        // Keep the unconsumed bytes at the front, grow when they leave no room for a read.
        var buffer = Buffer;
        var end = End - Start;
        if (Start > 0)
        {
            buffer.AsSpan(Start, end).CopyTo(buffer);
        }

        if (buffer.Length - end < ReadSize)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, end + ReadSize));
            buffer.AsSpan(0, end).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = grown;
        }

        // The window moves before the read, so that a failing read leaves it consistent.
        SetWindow(buffer, 0, end, isEnd: false);
        var read = _stream.Read(buffer, end, buffer.Length - end);
        SetWindow(buffer, 0, end + read, isEnd: read == 0);
    }
}
