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
internal sealed class FilePipeReader(Stream stream, bool leaveOpen) : PipeReader
{
    private const int ReadSize = 64 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(512 * 1024);
    private int _start;
    private int _end;
    private bool _needMore = true;
    private bool _completed;
    private bool _eof;
    private ReadOnlySequence<byte> _last;

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_needMore && !_eof)
        {
            result = default;
            return false;
        }

        result = Result();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_needMore && !_eof)
        {
            Fill();
        }

        return new ValueTask<ReadResult>(Result());
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var consumedBytes = (int)_last.Slice(0, consumed).Length;
        var examinedBytes = (int)_last.Slice(0, examined).Length;
        _start += consumedBytes;
        _needMore = examinedBytes == (int)_last.Length;
        _last = default;
    }

    public override void CancelPendingRead()
    {
        // Reads never wait, so there is nothing pending to cancel.
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        var buffer = _buffer;
        _buffer = [];
        ArrayPool<byte>.Shared.Return(buffer);
        if (!leaveOpen)
        {
            stream.Dispose();
        }
    }

    private ReadResult Result()
    {
        _last = new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
        return new ReadResult(_last, isCanceled: false, isCompleted: _eof);
    }

    private void Fill()
    {
        // Keep the unconsumed bytes at the front, grow when they leave no room for a read.
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_buffer.Length - _end < ReadSize)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _end + ReadSize));
            _buffer.AsSpan(0, _end).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = grown;
        }

        var read = stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
        _needMore = false;
    }
}
