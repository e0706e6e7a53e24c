using Nitro.Reactive.Events;

namespace Nitro.Backends.Windows.Tests.Guest;

/// <summary>A paused vCPU's registers held in memory, as a listener's register access would hold them.</summary>
internal sealed class GuestVcpu : IVcpuAccess
{
    private Registers _registers;
    private SpecialRegisters _special;

    public GuestVcpu(NitroEvent trap)
    {
        _registers = trap.Registers;
        _special = trap.SpecialRegisters;
    }

    public Registers Registers => _registers;

    public void GetRegisters(out Registers registers) => registers = _registers;

    public void SetRegisters(in Registers registers) => _registers = registers;

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = _special;

    public void SetSpecialRegisters(in SpecialRegisters registers) => _special = registers;

    /// <summary>The same trap, live: its handle reaches this vCPU while the returned pause is not disposed.</summary>
    public static (NitroEvent Live, GuestVcpu Vcpu, VcpuPause Pause) Live(NitroEvent trap)
    {
        var vcpu = new GuestVcpu(trap);
        var pause = VcpuHandle.Pause(trap.Vcpu, vcpu);
        var live = new NitroEvent(trap.Vcpu, trap.Direction, trap.Mechanism, in trap.Registers, in trap.SpecialRegisters, trap.Timestamp, pause.Handle);
        return (live, vcpu, pause);
    }
}
