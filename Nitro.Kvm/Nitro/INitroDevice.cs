using Nitro.Reactive.Events;

namespace Nitro.Kvm.Nitro;

/// <summary>The ioctl seam: <c>/dev/kvm</c> with Nitro's patches, or a scripted fake in tests.</summary>
internal interface INitroDevice
{
    /// <summary>KVM_NITRO_ATTACH_VM: attaches to the VM of a QEMU process.</summary>
    INitroVm AttachVm(int qemuPid);
}

/// <summary>An attached VM (the fd returned by KVM_NITRO_ATTACH_VM).</summary>
internal interface INitroVm : IDisposable
{
    /// <summary>KVM_NITRO_ATTACH_VCPUS.</summary>
    IReadOnlyList<INitroVcpu> AttachVcpus();

    /// <summary>KVM_NITRO_SET_SYSCALL_TRAP.</summary>
    void SetSyscallTrap(bool enabled);

    /// <summary>KVM_NITRO_ADD_SYSCALL_FILTER.</summary>
    void AddSyscallFilter(ulong number);

    /// <summary>KVM_NITRO_REMOVE_SYSCALL_FILTER.</summary>
    void RemoveSyscallFilter(ulong number);
}

/// <summary>An attached vCPU (an fd from KVM_NITRO_ATTACH_VCPUS).</summary>
internal interface INitroVcpu : IDisposable
{
    /// <summary>The vCPU index.</summary>
    int Id { get; }

    /// <summary>KVM_NITRO_GET_EVENT: waits for the next trap; false when the wait timed out (the kernel does so when filters are set).</summary>
    bool TryGetEvent(out NitroEventStruct trap);

    /// <summary>KVM_NITRO_CONTINUE: resumes the paused vCPU.</summary>
    void Continue();

    void GetRegisters(out Registers registers);

    void SetRegisters(in Registers registers);

    void GetSpecialRegisters(out SpecialRegisters registers);

    void SetSpecialRegisters(in SpecialRegisters registers);
}

/// <summary>Pauses and resumes the whole VM around trap changes (QMP stop / cont, or libvirt suspend / resume).</summary>
public interface IVmControl
{
    /// <summary>Pauses every vCPU.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the VM is paused.</returns>
    Task SuspendAsync(CancellationToken cancellationToken = default);

    /// <summary>Resumes the VM.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the VM runs.</returns>
    Task ResumeAsync(CancellationToken cancellationToken = default);
}
