using System.Runtime.InteropServices;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Nitro;

/// <summary>
/// Nitro's <c>struct event { bool present; enum direction; enum type; struct kvm_regs regs; struct kvm_sregs sregs; }</c>
/// (472 bytes), filled by <c>KVM_NITRO_GET_EVENT</c>. C <c>bool</c> is one byte, so it is held as a byte to keep
/// the struct blittable; the enums are C <c>int</c>s.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct NitroEventStruct
{
    /// <summary>The size of the C structure in bytes.</summary>
    public const int Size = 472;

    /// <summary>C <c>bool present</c>: nonzero when the kernel filled in an event.</summary>
    [FieldOffset(0)]
    public byte Present;

    /// <summary><c>enum direction</c>: 0 enter, 1 exit.</summary>
    [FieldOffset(4)]
    public SyscallDirection Direction;

    /// <summary><c>enum type</c>: 0 sysenter, 1 syscall.</summary>
    [FieldOffset(8)]
    public SyscallMechanism Type;

    /// <summary><c>struct kvm_regs regs</c> (aligned to 8, after 4 bytes of padding).</summary>
    [FieldOffset(16)]
    public Registers Regs;

    /// <summary><c>struct kvm_sregs sregs</c>.</summary>
    [FieldOffset(160)]
    public SpecialRegisters Sregs;

    /// <summary>Gets a value indicating whether the kernel filled in an event.</summary>
    public readonly bool IsPresent => Present != 0;
}
