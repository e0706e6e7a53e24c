namespace Nitro.Kvm.Listening;

/// <summary>
/// Where a breakpoint listener's time goes, accumulated over a session: waiting while the guest
/// runs (including QEMU's re-translation after each stop), reading registers, running observers,
/// and stepping past the trapped instruction and resuming.
/// </summary>
/// <param name="Traps">Breakpoint stops that became events.</param>
/// <param name="OtherStops">Stops that were not at a trap point (interrupts).</param>
/// <param name="GuestRunning">Time between resuming the guest and its next stop.</param>
/// <param name="ReadingRegisters">Time reading the stopped vCPU's registers.</param>
/// <param name="Observers">Time in synchronous observers (the vCPU is paused meanwhile).</param>
/// <param name="Resuming">Time emulating the trapped instruction, re-arming and continuing.</param>
/// <param name="ExitArmings">How often exit breakpoints were inserted or removed.</param>
public readonly record struct GdbStubListenerStatistics(
    long Traps,
    long OtherStops,
    TimeSpan GuestRunning,
    TimeSpan ReadingRegisters,
    TimeSpan Observers,
    TimeSpan Resuming,
    long ExitArmings)
{
    /// <summary>Gets the host time per trap spent outside the guest (registers, observers, resuming).</summary>
    public TimeSpan HostTimePerTrap => Traps == 0 ? TimeSpan.Zero : (ReadingRegisters + Observers + Resuming) / Traps;
}
