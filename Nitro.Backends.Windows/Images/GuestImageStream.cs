using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// A read-only stream over an image mapped in guest virtual memory, for <see cref="System.Reflection.PortableExecutable.PEReader"/>
/// with <c>IsLoadedImage</c>. Pages that are not mapped (paged out, discarded) read as zeros, so a
/// hostile or partly paged image yields a bad header, never an exception from the page walk.
/// </summary>
internal sealed class GuestImageStream : Stream
{
    private readonly IVirtualMemory _memory;
    private readonly ulong _base;
    private readonly long _length;
    private long _position;

    public GuestImageStream(IVirtualMemory memory, ulong imageBase, long length)
    {
        _memory = memory;
        _base = imageBase;
        _length = length;
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var count = (int)Math.Min(buffer.Length, Math.Max(0, _length - _position));
        var done = 0;
        while (done < count)
        {
            var address = _base + (ulong)(_position + done);
            var toPage = (int)Math.Min(count - done, 0x1000 - (long)(address & 0xFFF));
            var slice = buffer.Slice(done, toPage);
            int got;
            try
            {
                got = _memory.ReadPartial(address, slice);
            }
            catch (GuestMemoryException)
            {
                got = 0;
            }

            slice[got..].Clear();
            done += toPage;
        }

        _position += count;
        return count;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => _length + offset,
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
