using System.Runtime.CompilerServices;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Nitro;

/// <summary>
/// The request numbers of Nitro's patched KVM module (<c>KVM_NITRO_*</c>), computed from the
/// Linux ioctl encoding with type <c>KVMIO</c> (0xAE) and the sizes of our interop structs, so a
/// layout change shows up as a request number change (and fails the C comparison test).
/// </summary>
internal static class NitroIoctl
{
    /// <summary>KVMIO: the ioctl type of every KVM request.</summary>
    public const byte KvmIo = 0xAE;

    /// <summary><c>/dev/kvm</c>: number of VMs (no argument).</summary>
    public static readonly uint NumVms = IoctlNumber.IO(KvmIo, 0xE0);

    /// <summary><c>/dev/kvm</c>: attach to the VM of a QEMU process (<c>pid_t</c> by value); returns a VM fd.</summary>
    public static readonly uint AttachVm = IoctlNumber.IOW(KvmIo, 0xE1, sizeof(int));

    /// <summary>VM fd: fill a <see cref="NitroVcpus"/> with the vCPU ids and fds.</summary>
    public static readonly uint AttachVcpus = IoctlNumber.IOR(KvmIo, 0xE2, Unsafe.SizeOf<NitroVcpus>());

    /// <summary>VM fd: turn syscall trapping on or off (C <c>bool</c>, one byte).</summary>
    public static readonly uint SetSyscallTrap = IoctlNumber.IOW(KvmIo, 0xE3, sizeof(byte));

    /// <summary>vCPU fd: wait for the next trap and fill a <see cref="NitroEventStruct"/>.</summary>
    public static readonly uint GetEvent = IoctlNumber.IOR(KvmIo, 0xE5, Unsafe.SizeOf<NitroEventStruct>());

    /// <summary>vCPU fd: resume the paused vCPU (no argument).</summary>
    public static readonly uint Continue = IoctlNumber.IO(KvmIo, 0xE6);

    /// <summary>vCPU fd: read <c>struct kvm_regs</c>.</summary>
    public static readonly uint GetRegs = IoctlNumber.IOR(KvmIo, 0xE7, Unsafe.SizeOf<Registers>());

    /// <summary>vCPU fd: write <c>struct kvm_regs</c>.</summary>
    public static readonly uint SetRegs = IoctlNumber.IOW(KvmIo, 0xE8, Unsafe.SizeOf<Registers>());

    /// <summary>vCPU fd: read <c>struct kvm_sregs</c>.</summary>
    public static readonly uint GetSregs = IoctlNumber.IOR(KvmIo, 0xE9, Unsafe.SizeOf<SpecialRegisters>());

    /// <summary>vCPU fd: write <c>struct kvm_sregs</c>.</summary>
    public static readonly uint SetSregs = IoctlNumber.IOW(KvmIo, 0xEA, Unsafe.SizeOf<SpecialRegisters>());

    /// <summary>VM fd: trap only these syscall numbers (<c>u64</c>; declared <c>_IOR</c> by Nitro although the kernel reads it).</summary>
    public static readonly uint AddSyscallFilter = IoctlNumber.IOR(KvmIo, 0xEB, sizeof(ulong));

    /// <summary>VM fd: stop trapping one syscall number (<c>u64</c>, declared <c>_IOR</c> like the add request).</summary>
    public static readonly uint RemoveSyscallFilter = IoctlNumber.IOR(KvmIo, 0xEC, sizeof(ulong));
}
