using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Nitro;

/// <summary>The real seam: ioctls on <c>/dev/kvm</c> of a kernel carrying Nitro's KVM patches.</summary>
internal sealed class KvmNitroDevice : INitroDevice
{
    private const int ETIMEDOUT = 110;
    private const int EAGAIN = 11;
    private const int EINTR = 4;

    private readonly string _path;

    public KvmNitroDevice(string path = "/dev/kvm") => _path = path;

    public INitroVm AttachVm(int qemuPid)
    {
        using var kvm = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        var fd = Interop.Libc.IoctlInt(kvm, NitroIoctl.AttachVm, qemuPid);
        if (fd < 0)
        {
            throw Error($"KVM_NITRO_ATTACH_VM for QEMU pid {qemuPid} failed (is this kernel patched with Nitro?)");
        }

        return new Vm(new SafeFileHandle(fd, ownsHandle: true));
    }

    private static IOException Error(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    private sealed class Vm(SafeFileHandle fd) : INitroVm
    {
        public IReadOnlyList<INitroVcpu> AttachVcpus()
        {
            var vcpus = default(NitroVcpus);
            if (Interop.Libc.Ioctl(fd, NitroIoctl.AttachVcpus, ref vcpus) < 0)
            {
                throw Error("KVM_NITRO_ATTACH_VCPUS failed");
            }

            var count = Math.Clamp(vcpus.NumVcpus, 0, NitroVcpus.MaxVcpus);
            var list = new List<INitroVcpu>(count);
            for (var i = 0; i < count; i++)
            {
                list.Add(new Vcpu(vcpus.Ids[i], new SafeFileHandle(vcpus.Fds[i], ownsHandle: true)));
            }

            return list;
        }

        public void SetSyscallTrap(bool enabled)
        {
            if (Interop.Libc.IoctlInt(fd, NitroIoctl.SetSyscallTrap, enabled ? 1 : 0) < 0)
            {
                throw Error("KVM_NITRO_SET_SYSCALL_TRAP failed");
            }
        }

        public void AddSyscallFilter(ulong number)
        {
            if (Interop.Libc.Ioctl(fd, NitroIoctl.AddSyscallFilter, ref number) < 0)
            {
                throw Error($"KVM_NITRO_ADD_SYSCALL_FILTER {number} failed");
            }
        }

        public void RemoveSyscallFilter(ulong number)
        {
            if (Interop.Libc.Ioctl(fd, NitroIoctl.RemoveSyscallFilter, ref number) < 0)
            {
                throw Error($"KVM_NITRO_REMOVE_SYSCALL_FILTER {number} failed");
            }
        }

        public void Dispose() => fd.Dispose();
    }

    private sealed class Vcpu(int id, SafeFileHandle fd) : INitroVcpu
    {
        public int Id => id;

        public bool TryGetEvent(out NitroEventStruct trap)
        {
            trap = default;
            if (Interop.Libc.Ioctl(fd, NitroIoctl.GetEvent, ref trap) == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            return errno is ETIMEDOUT or EAGAIN or EINTR ? false : throw Error($"KVM_NITRO_GET_EVENT on vCPU {id} failed");
        }

        public void Continue()
        {
            if (Interop.Libc.IoctlNone(fd, NitroIoctl.Continue) < 0)
            {
                throw Error($"KVM_NITRO_CONTINUE on vCPU {id} failed");
            }
        }

        public void GetRegisters(out Registers registers)
        {
            registers = default;
            if (Interop.Libc.Ioctl(fd, NitroIoctl.GetRegs, ref registers) < 0)
            {
                throw Error($"KVM_NITRO_GET_REGS on vCPU {id} failed");
            }
        }

        public void SetRegisters(in Registers registers)
        {
            var copy = registers;
            if (Interop.Libc.Ioctl(fd, NitroIoctl.SetRegs, ref copy) < 0)
            {
                throw Error($"KVM_NITRO_SET_REGS on vCPU {id} failed");
            }
        }

        public void GetSpecialRegisters(out SpecialRegisters registers)
        {
            registers = default;
            if (Interop.Libc.Ioctl(fd, NitroIoctl.GetSregs, ref registers) < 0)
            {
                throw Error($"KVM_NITRO_GET_SREGS on vCPU {id} failed");
            }
        }

        public void SetSpecialRegisters(in SpecialRegisters registers)
        {
            var copy = registers;
            if (Interop.Libc.Ioctl(fd, NitroIoctl.SetSregs, ref copy) < 0)
            {
                throw Error($"KVM_NITRO_SET_SREGS on vCPU {id} failed");
            }
        }

        public void Dispose() => fd.Dispose();
    }
}
