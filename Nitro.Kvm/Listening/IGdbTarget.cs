using Nitro.Reactive.Events;

namespace Nitro.Kvm.Listening;

/// <summary>Registers the listener writes through the gdbstub (QEMU's x86-64 numbering).</summary>
internal enum GdbRegister
{
    Rip = 16,
    Eflags = 17,
    GsBase = 25,
    KernelGsBase = 26,
}

/// <summary>Why the guest stopped, as the listener needs it.</summary>
/// <param name="Vcpu">The vCPU that stopped (0-based), or -1 when the stub did not say.</param>
/// <param name="Exited">The guest (QEMU) is gone.</param>
internal readonly record struct GdbStop(int Vcpu, bool Exited);

/// <summary>The registers of the stopped vCPU in the SDK's layouts, plus the kernel GS base.</summary>
internal struct GdbRegisterSnapshot
{
    public Registers Registers;
    public SpecialRegisters SpecialRegisters;
    public ulong KernelGsBase;
}

/// <summary>
/// The gdbstub operations a breakpoint listener needs: the seam between the listener's logic
/// (tested against a scripted fake) and the RSP client (tested against QEMU).
/// </summary>
internal interface IGdbTarget
{
    /// <summary>Gets a value indicating whether the guest was last continued (not stopped). A new gdb connection stops the guest.</summary>
    bool IsRunning { get; }

    /// <summary>Waits for the next stop reply.</summary>
    Task<GdbStop> WaitForStopAsync(CancellationToken cancellationToken);

    /// <summary>Asks a running guest to stop; the stop reply arrives through <see cref="WaitForStopAsync"/>.</summary>
    Task InterruptAsync();

    /// <summary>Reads the registers of the vCPU that stopped last (or <paramref name="vcpu"/>).</summary>
    Task<GdbRegisterSnapshot> ReadRegistersAsync(int vcpu);

    /// <summary>Writes one register of <paramref name="vcpu"/>.</summary>
    Task WriteRegisterAsync(int vcpu, GdbRegister register, ulong value);

    /// <summary>Writes the general-purpose registers of <paramref name="vcpu"/>.</summary>
    Task WriteRegistersAsync(int vcpu, Registers registers);

    /// <summary>Inserts a software breakpoint.</summary>
    Task InsertBreakpointAsync(ulong address);

    /// <summary>Removes a software breakpoint.</summary>
    Task RemoveBreakpointAsync(ulong address);

    /// <summary>Resumes every vCPU; returns once the stub accepted the command.</summary>
    Task ContinueAsync();
}
