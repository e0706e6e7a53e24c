using System.Buffers;
using System.IO.Pipelines;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// The part the file readers share: a <see cref="PipeReader"/> that hands out one contiguous
/// window of an array and, when its consumer has examined all of it, asks <see cref="Fill"/> for
/// more. Reads never wait on anything a <see cref="CancelPendingRead"/> could cancel.
/// </summary>
internal abstract class ContiguousPipeReader : PipeReader
{
    private ReadOnlySequence<byte> _last;
    private bool _needMore = true;

    /// <summary>Gets the array the unconsumed bytes are in.</summary>
    protected byte[] Buffer { get; private set; } = [];

    /// <summary>Gets the index of the first unconsumed byte.</summary>
    protected int Start { get; private set; }

    /// <summary>Gets the index after the last byte read.</summary>
    protected int End { get; private set; }

    /// <summary>Gets whether no byte follows <see cref="End"/>.</summary>
    protected bool IsEnd { get; private set; }

    /// <summary>Gets whether <see cref="PipeReader.Complete"/> was called.</summary>
    protected bool IsCompleted { get; set; }

    public override bool TryRead(out ReadResult result)
    {
        ObjectDisposedException.ThrowIf(IsCompleted, this);
        if (_needMore && !IsEnd)
        {
            result = default;
            return false;
        }

        result = Result();
        return true;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsCompleted, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_needMore && !IsEnd)
        {
            Fill(cancellationToken);
            _needMore = false;
        }

        return new ValueTask<ReadResult>(Result());
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        var consumedBytes = (int)_last.Slice(0, consumed).Length;
        var examinedBytes = (int)_last.Slice(0, examined).Length;
        Start += consumedBytes;
        _needMore = examinedBytes == (int)_last.Length;
        _last = default;
    }

    public override void CancelPendingRead()
    {
        // Nothing is pending: Fill either returns or observes the read's own token.
    }

    /// <summary>Makes more bytes available after the unconsumed ones (through <see cref="SetWindow"/>), or marks the end.</summary>
    /// <param name="cancellationToken">The read's token.</param>
    protected abstract void Fill(CancellationToken cancellationToken);

    /// <summary>Sets the window handed out next.</summary>
    protected void SetWindow(byte[] buffer, int start, int end, bool isEnd)
    {
        Buffer = buffer;
        Start = start;
        End = end;
        IsEnd = isEnd;
    }

    private ReadResult Result()
    {
        _last = new ReadOnlySequence<byte>(Buffer, Start, End - Start);
        return new ReadResult(_last, isCanceled: false, isCompleted: IsEnd);
    }
}
