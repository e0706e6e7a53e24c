using System.Runtime.InteropServices;

namespace Nitro.Reactive.Events;

/// <summary>
/// The general-purpose registers of an x86-64 vCPU, laid out exactly as Linux's
/// <c>struct kvm_regs</c> (18 unsigned 64-bit fields, 144 bytes), so that it can be
/// passed to and from the Nitro ioctls without conversion.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 144)]
public struct Registers : IEquatable<Registers>
{
    /// <summary>The size of the structure in bytes (144).</summary>
    public const int Size = 144;

    /// <summary>RAX: the syscall number on entry and the return value on exit.</summary>
    public ulong Rax;

    /// <summary>RBX.</summary>
    public ulong Rbx;

    /// <summary>RCX (holds the return address after <c>syscall</c>).</summary>
    public ulong Rcx;

    /// <summary>RDX.</summary>
    public ulong Rdx;

    /// <summary>RSI.</summary>
    public ulong Rsi;

    /// <summary>RDI.</summary>
    public ulong Rdi;

    /// <summary>RSP.</summary>
    public ulong Rsp;

    /// <summary>RBP.</summary>
    public ulong Rbp;

    /// <summary>R8.</summary>
    public ulong R8;

    /// <summary>R9.</summary>
    public ulong R9;

    /// <summary>R10.</summary>
    public ulong R10;

    /// <summary>R11 (holds RFLAGS after <c>syscall</c>).</summary>
    public ulong R11;

    /// <summary>R12.</summary>
    public ulong R12;

    /// <summary>R13.</summary>
    public ulong R13;

    /// <summary>R14.</summary>
    public ulong R14;

    /// <summary>R15.</summary>
    public ulong R15;

    /// <summary>RIP.</summary>
    public ulong Rip;

    /// <summary>RFLAGS.</summary>
    public ulong Rflags;

    /// <summary>Views the registers as their raw bytes (kvm_regs layout).</summary>
    /// <param name="registers">The registers to view.</param>
    /// <returns>A span over the 144 bytes of <paramref name="registers"/>.</returns>
    public static Span<byte> AsBytes(ref Registers registers) =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref registers, 1));

    /// <inheritdoc />
    public readonly bool Equals(Registers other) =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in this, 1))
            .SequenceEqual(MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in other, 1)));

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is Registers other && Equals(other);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Rax, Rip, Rsp, Rdi, Rsi);

    /// <summary>Compares two register sets byte for byte.</summary>
    /// <param name="left">The first set.</param>
    /// <param name="right">The second set.</param>
    /// <returns><see langword="true"/> when every register is equal.</returns>
    public static bool operator ==(Registers left, Registers right) => left.Equals(right);

    /// <summary>Compares two register sets byte for byte.</summary>
    /// <param name="left">The first set.</param>
    /// <param name="right">The second set.</param>
    /// <returns><see langword="true"/> when any register differs.</returns>
    public static bool operator !=(Registers left, Registers right) => !left.Equals(right);
}
