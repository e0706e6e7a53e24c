using System.Runtime.InteropServices;

namespace Nitro.Reactive.Events;

/// <summary>A segment register as Linux's <c>struct kvm_segment</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 24)]
public struct Segment
{
    /// <summary>Linear base address (for FS and GS: the 64-bit base).</summary>
    public ulong Base;

    /// <summary>Segment limit.</summary>
    public uint Limit;

    /// <summary>Selector.</summary>
    public ushort Selector;

    /// <summary>Descriptor type.</summary>
    public byte Type;

    /// <summary>Present bit.</summary>
    public byte Present;

    /// <summary>Descriptor privilege level (3 for user mode code).</summary>
    public byte Dpl;

    /// <summary>Default operand size (D/B).</summary>
    public byte Db;

    /// <summary>Descriptor type (S): 1 for code or data.</summary>
    public byte S;

    /// <summary>Long mode (L).</summary>
    public byte L;

    /// <summary>Granularity (G).</summary>
    public byte G;

    /// <summary>Available for software (AVL).</summary>
    public byte Avl;

    /// <summary>Unusable segment.</summary>
    public byte Unusable;

    /// <summary>Padding, kept for the native layout.</summary>
    public byte Padding;
}

/// <summary>A descriptor-table register (GDTR / IDTR) as Linux's <c>struct kvm_dtable</c> (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct DescriptorTable
{
    /// <summary>Linear base address of the table.</summary>
    public ulong Base;

    /// <summary>Table limit.</summary>
    public ushort Limit;

    /// <summary>Padding word 0.</summary>
    public ushort Padding0;

    /// <summary>Padding word 1.</summary>
    public ushort Padding1;

    /// <summary>Padding word 2.</summary>
    public ushort Padding2;
}
