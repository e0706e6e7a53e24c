using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Nitro.Reactive.Export.Internal;

/// <summary>A growable pooled byte buffer that can forget a failed line; the line formatter appends to it directly.</summary>
internal sealed class JsonLineBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(4096);

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, Length);

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _array.Length - Length);
        Length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _array.AsMemory(Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        if (_array.Length - Length < Math.Max(sizeHint, 1))
        {
            Reserve(sizeHint);
        }

        return _array.AsSpan(Length);
    }

    /// <summary>Appends <paramref name="bytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Append(ReadOnlySpan<byte> bytes)
    {
        var length = bytes.Length;
        if (_array.Length - Length < length)
        {
            Reserve(length);
        }

        // Most appends are 8 to 32 bytes (keys, names, times): two overlapping moves, no call to memmove.
        ref var destination = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_array), Length);
        ref var source = ref MemoryMarshal.GetReference(bytes);
        if (length is >= 16 and <= 32)
        {
            Vector128.LoadUnsafe(ref source).StoreUnsafe(ref destination);
            Vector128.LoadUnsafe(ref source, (nuint)(length - 16)).StoreUnsafe(ref destination, (nuint)(length - 16));
        }
        else if (length is >= 8 and < 16)
        {
            var first = Unsafe.ReadUnaligned<ulong>(ref source);
            var last = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, length - 8));
            Unsafe.WriteUnaligned(ref destination, first);
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, length - 8), last);
        }
        else
        {
            bytes.CopyTo(_array.AsSpan(Length));
        }

        Length += length;
    }

    /// <summary>Appends one byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Append(byte value)
    {
        if (Length == _array.Length)
        {
            Reserve(1);
        }

        _array[Length++] = value;
    }

    public void Truncate(int length) => Length = length;

    public void Dispose()
    {
        var array = _array;
        _array = [];
        Length = 0;
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private void Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_array.Length - Length >= needed)
        {
            return;
        }

        var grown = ArrayPool<byte>.Shared.Rent(checked(Math.Max(_array.Length * 2, Length + needed)));
        _array.AsSpan(0, Length).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_array);
        _array = grown;
    }
}
