namespace Nitro.Reactive.Tests.Recording;

/// <summary>A read-only stream over bytes that counts what was read (how far a reader read ahead).</summary>
internal sealed class CountingStream(byte[] data) : MemoryStream(data, writable: false)
{
    private long _read;

    public long BytesRead => Interlocked.Read(ref _read);

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = base.Read(buffer, offset, count);
        Interlocked.Add(ref _read, n);
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var scratch = new byte[buffer.Length];
        var n = Read(scratch, 0, scratch.Length);
        scratch.AsSpan(0, n).CopyTo(buffer.Span);
        return ValueTask.FromResult(n);
    }
}
