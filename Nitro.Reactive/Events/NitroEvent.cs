namespace Nitro.Reactive.Events;

/// <summary>
/// One trap of a guest vCPU at a system call entry or exit, as delivered by a listener:
/// the vCPU, direction and mechanism, a snapshot of the registers, the host monotonic time,
/// and — for live events — a handle to the paused vCPU.
/// </summary>
public sealed class NitroEvent
{
    private readonly Registers _registers;
    private readonly SpecialRegisters _specialRegisters;

    /// <summary>Initializes a new event.</summary>
    /// <param name="vcpu">The vCPU index (0-based).</param>
    /// <param name="direction">Entry or exit.</param>
    /// <param name="mechanism">The instruction that trapped.</param>
    /// <param name="registers">The general-purpose registers at the trap.</param>
    /// <param name="specialRegisters">The special registers at the trap.</param>
    /// <param name="timestamp">Host monotonic time in nanoseconds (<see cref="MonotonicClock"/>).</param>
    /// <param name="handle">The paused vCPU, or <see langword="null"/> for recorded or synthetic events.</param>
    public NitroEvent(
        int vcpu,
        SyscallDirection direction,
        SyscallMechanism mechanism,
        in Registers registers,
        in SpecialRegisters specialRegisters,
        long timestamp,
        VcpuHandle? handle = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        Vcpu = vcpu;
        Direction = direction;
        Mechanism = mechanism;
        _registers = registers;
        _specialRegisters = specialRegisters;
        Timestamp = timestamp;
        Handle = handle;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }

    /// <summary>Gets whether this is a system call entry or exit.</summary>
    public SyscallDirection Direction { get; }

    /// <summary>Gets the trapping instruction.</summary>
    public SyscallMechanism Mechanism { get; }

    /// <summary>Gets the general-purpose registers as they were at the trap.</summary>
    public ref readonly Registers Registers => ref _registers;

    /// <summary>Gets the special registers as they were at the trap.</summary>
    public ref readonly SpecialRegisters SpecialRegisters => ref _specialRegisters;

    /// <summary>Gets the host monotonic time of the trap in nanoseconds.</summary>
    public long Timestamp { get; }

    /// <summary>
    /// Gets the handle of the paused vCPU (live events only). It refuses use once the vCPU has
    /// resumed, which is as soon as the synchronous observers have returned.
    /// </summary>
    public VcpuHandle? Handle { get; }

    /// <summary>Gets the CR3 of the trapping context with the PCID and no-flush bits masked off.</summary>
    public ulong PageTableRoot => _specialRegisters.Cr3 & Memory.PageTableBits.Cr3AddressMask;

    /// <inheritdoc />
    public override string ToString() =>
        $"vcpu {Vcpu} {Direction} {Mechanism} rax=0x{_registers.Rax:x} cr3=0x{_specialRegisters.Cr3:x} t={Timestamp}";
}
