using System.Diagnostics.CodeAnalysis;
using Nitro.Reactive.Events;

namespace Nitro.Reactive.Syscalls;

/// <summary>Where system call argument <c>i</c> lives: a register, or a slot on the user stack.</summary>
public enum ArgumentLocationKind
{
    /// <summary>A general-purpose register (an offset into <see cref="Registers"/>).</summary>
    Register,

    /// <summary>A stack slot at RSP plus an offset.</summary>
    Stack,
}

/// <summary>The location of one argument.</summary>
/// <param name="Kind">Register or stack.</param>
/// <param name="Offset">Byte offset into <see cref="Registers"/>, or from RSP.</param>
/// <param name="Width">Width in bytes (8, or 4 for 32-bit conventions).</param>
public readonly record struct ArgumentLocation(ArgumentLocationKind Kind, int Offset, int Width);

/// <summary>
/// A system call calling convention: where argument <c>i</c> is found at entry.
/// </summary>
public sealed class CallingConvention
{
    private const int Rbx = 8, Rcx = 16, Rdx = 24, Rsi = 32, Rdi = 40, Rbp = 56, R8 = 64, R9 = 72, R10 = 80;

    private readonly int[] _registerOffsets;
    private readonly int _width;
    private readonly int _stackBase;

    private CallingConvention(string name, int[] registerOffsets, int width, int maxArguments, int stackBase)
    {
        Name = name;
        _registerOffsets = registerOffsets;
        _width = width;
        MaxArguments = maxArguments;
        _stackBase = stackBase;
    }

    /// <summary>Linux x86-64 <c>syscall</c>: rdi rsi rdx r10 r8 r9.</summary>
    public static CallingConvention LinuxX64 { get; } = new("linux-x64", [Rdi, Rsi, Rdx, R10, R8, R9], 8, 6, -1);

    /// <summary>Linux 32-bit entry (<c>int 0x80</c> / <c>sysenter</c>): ebx ecx edx esi edi ebp.</summary>
    public static CallingConvention LinuxIa32 { get; } = new("linux-ia32", [Rbx, Rcx, Rdx, Rsi, Rdi, Rbp], 4, 6, -1);

    /// <summary>Windows x64: r10 (rcx before <c>syscall</c>) rdx r8 r9, then the user stack at rsp + 0x28 + 8·(i − 4).</summary>
    public static CallingConvention WindowsX64 { get; } = new("windows-x64", [R10, Rdx, R8, R9], 8, 17, 0x28);

    /// <summary>Gets the convention's name.</summary>
    public string Name { get; }

    /// <summary>Gets the largest number of arguments this convention can address.</summary>
    public int MaxArguments { get; }

    /// <summary>Finds a built-in convention by its <see cref="Name"/> (for example when reading a recorded trace).</summary>
    /// <param name="name">The name, such as <c>linux-x64</c>.</param>
    /// <param name="convention">Receives the convention when found.</param>
    /// <returns><see langword="true"/> when <paramref name="name"/> names a built-in convention.</returns>
    public static bool TryGetByName(string name, [NotNullWhen(true)] out CallingConvention? convention)
    {
        convention = name switch
        {
            "linux-x64" => LinuxX64,
            "linux-ia32" => LinuxIa32,
            "windows-x64" => WindowsX64,
            _ => null,
        };
        return convention is not null;
    }

    /// <summary>Locates argument <paramref name="index"/>.</summary>
    /// <param name="index">The zero-based argument index.</param>
    /// <returns>Its location.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or beyond <see cref="MaxArguments"/>.</exception>
    public ArgumentLocation Locate(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, MaxArguments);
        return index < _registerOffsets.Length
            ? new ArgumentLocation(ArgumentLocationKind.Register, _registerOffsets[index], _width)
            : new ArgumentLocation(ArgumentLocationKind.Stack, _stackBase + (8 * (index - _registerOffsets.Length)), _width);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
