using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nitro.Reactive.Events;

/// <summary>
/// The special registers of an x86-64 vCPU, laid out exactly as Linux's
/// <c>struct kvm_sregs</c> (312 bytes): segments, descriptor tables, control registers,
/// EFER, the APIC base and the pending-interrupt bitmap.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 312)]
public struct SpecialRegisters : IEquatable<SpecialRegisters>
{
    /// <summary>The size of the structure in bytes (312).</summary>
    public const int Size = 312;

    /// <summary>CS.</summary>
    public Segment Cs;

    /// <summary>DS.</summary>
    public Segment Ds;

    /// <summary>ES.</summary>
    public Segment Es;

    /// <summary>FS (its base is the thread pointer in user mode).</summary>
    public Segment Fs;

    /// <summary>GS (its base is the per-cpu area in kernel mode).</summary>
    public Segment Gs;

    /// <summary>SS.</summary>
    public Segment Ss;

    /// <summary>Task register.</summary>
    public Segment Tr;

    /// <summary>Local descriptor table register.</summary>
    public Segment Ldt;

    /// <summary>GDTR.</summary>
    public DescriptorTable Gdt;

    /// <summary>IDTR.</summary>
    public DescriptorTable Idt;

    /// <summary>CR0.</summary>
    public ulong Cr0;

    /// <summary>CR2 (last page-fault address).</summary>
    public ulong Cr2;

    /// <summary>CR3: the page-table root of the current address space (with PCID / no-flush bits).</summary>
    public ulong Cr3;

    /// <summary>CR4 (bit 12, LA57, selects 5-level paging).</summary>
    public ulong Cr4;

    /// <summary>CR8 (task priority).</summary>
    public ulong Cr8;

    /// <summary>EFER (bit 0, SCE, enables SYSCALL).</summary>
    public ulong Efer;

    /// <summary>APIC base MSR.</summary>
    public ulong ApicBase;

    /// <summary>Pending external interrupts (256 bits).</summary>
    public InterruptBitmap InterruptBitmap;

    /// <summary>Views the special registers as their raw bytes (kvm_sregs layout).</summary>
    /// <param name="registers">The registers to view.</param>
    /// <returns>A span over the 312 bytes of <paramref name="registers"/>.</returns>
    public static Span<byte> AsBytes(ref SpecialRegisters registers) =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref registers, 1));

    /// <inheritdoc />
    public readonly bool Equals(SpecialRegisters other) =>
        MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in this, 1))
            .SequenceEqual(MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in other, 1)));

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is SpecialRegisters other && Equals(other);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Cr3, Cr4, Efer, Gs.Base, Fs.Base);

    /// <summary>Compares two sets byte for byte.</summary>
    /// <param name="left">The first set.</param>
    /// <param name="right">The second set.</param>
    /// <returns><see langword="true"/> when every byte is equal.</returns>
    public static bool operator ==(SpecialRegisters left, SpecialRegisters right) => left.Equals(right);

    /// <summary>Compares two sets byte for byte.</summary>
    /// <param name="left">The first set.</param>
    /// <param name="right">The second set.</param>
    /// <returns><see langword="true"/> when any byte differs.</returns>
    public static bool operator !=(SpecialRegisters left, SpecialRegisters right) => !left.Equals(right);
}

/// <summary>The 256-bit pending-interrupt bitmap of <c>struct kvm_sregs</c> (4 × u64).</summary>
[InlineArray(4)]
public struct InterruptBitmap
{
    private ulong _element0;
}
