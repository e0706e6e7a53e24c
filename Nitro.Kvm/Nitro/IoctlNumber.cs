namespace Nitro.Kvm.Nitro;

/// <summary>
/// Linux ioctl request encoding (<c>include/uapi/asm-generic/ioctl.h</c>, used by x86-64):
/// bits 0–7 number, 8–15 type, 16–29 argument size, 30–31 direction (1 write, 2 read).
/// Direction is seen from user space: <c>_IOR</c> reads from the kernel, <c>_IOW</c> writes to it.
/// </summary>
internal static class IoctlNumber
{
    private const int NumberShift = 0;
    private const int TypeShift = 8;
    private const int SizeShift = 16;
    private const int DirectionShift = 30;
    private const uint MaxSize = (1u << 14) - 1;

    private const uint None = 0;
    private const uint Write = 1;
    private const uint Read = 2;

    /// <summary><c>_IO(type, nr)</c>: a request without an argument.</summary>
    public static uint IO(byte type, byte number) => Encode(None, type, number, 0);

    /// <summary><c>_IOR(type, nr, size)</c>: the kernel fills <paramref name="size"/> bytes.</summary>
    public static uint IOR(byte type, byte number, int size) => Encode(Read, type, number, size);

    /// <summary><c>_IOW(type, nr, size)</c>: the kernel reads <paramref name="size"/> bytes.</summary>
    public static uint IOW(byte type, byte number, int size) => Encode(Write, type, number, size);

    /// <summary><c>_IOWR(type, nr, size)</c>: both directions.</summary>
    public static uint IOWR(byte type, byte number, int size) => Encode(Read | Write, type, number, size);

    private static uint Encode(uint direction, byte type, byte number, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)size, MaxSize, nameof(size));
        return (direction << DirectionShift) | ((uint)size << SizeShift) | ((uint)type << TypeShift) | ((uint)number << NumberShift);
    }
}
