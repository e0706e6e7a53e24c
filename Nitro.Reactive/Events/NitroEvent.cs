namespace Nitro.Reactive.Events;

/// <summary>
/// One trap of a guest vCPU at a system call entry or exit, as delivered by a listener:
/// the vCPU, direction and mechanism, a snapshot of the registers, the host monotonic time,
/// and — for live events — a handle to the paused vCPU.
/// </summary>
public sealed class NitroEvent
{
    private readonly Registers _registers;

    // By reference: the special registers rarely change between traps of one vCPU, so a trace
    // reader hands every event the same immutable snapshot until they do (312 B saved per event).
    private readonly SpecialRegistersSnapshot _specialRegisters;

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
        : this(vcpu, direction, mechanism, in registers, new SpecialRegistersSnapshot(in specialRegisters), timestamp, handle)
    {
    }

    // Private so that `default` for the special registers still binds to the public constructor.
    private NitroEvent(
        int vcpu,
        SyscallDirection direction,
        SyscallMechanism mechanism,
        in Registers registers,
        SpecialRegistersSnapshot specialRegisters,
        long timestamp,
        VcpuHandle? handle = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        ArgumentNullException.ThrowIfNull(specialRegisters);
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

    /// <summary>Creates an event that shares an immutable special-register snapshot with other events (trace replay).</summary>
    internal static NitroEvent WithSharedSpecialRegisters(
        int vcpu,
        SyscallDirection direction,
        SyscallMechanism mechanism,
        in Registers registers,
        SpecialRegistersSnapshot specialRegisters,
        long timestamp) =>
        new(vcpu, direction, mechanism, in registers, specialRegisters, timestamp);

    /// <summary>Gets whether this is a system call entry or exit.</summary>
    public SyscallDirection Direction { get; }

    /// <summary>Gets the trapping instruction.</summary>
    public SyscallMechanism Mechanism { get; }

    /// <summary>Gets the general-purpose registers as they were at the trap.</summary>
    public ref readonly Registers Registers => ref _registers;

    /// <summary>Gets the special registers as they were at the trap.</summary>
    public ref readonly SpecialRegisters SpecialRegisters => ref _specialRegisters.Value;

    /// <summary>Gets the host monotonic time of the trap in nanoseconds.</summary>
    public long Timestamp { get; }

    /// <summary>
    /// Gets the handle of the paused vCPU (live events only). It refuses use once the vCPU has
    /// resumed, which is as soon as the synchronous observers have returned. When an OS back end
    /// built this event from a user frame the kernel saved (<see cref="Registers"/> are then the
    /// thread's user registers, not the vCPU's), the handle reads and writes that frame in guest
    /// memory: see <see cref="VcpuHandle.Target"/>.
    /// </summary>
    public VcpuHandle? Handle { get; }

    /// <summary>
    /// Gets what a callback listener (the QEMU plugin) knew of the trap: its kernel address, the saved
    /// frame and task it found; <see langword="null"/> for breakpoint listeners and recorded events,
    /// whose <see cref="Registers"/> are the vCPU's own (RIP is then the trap address).
    /// </summary>
    public TrapContext? Context { get; init; }

    /// <summary>Gets the kernel address that trapped: <see cref="TrapContext.Address"/> when there is a context, else RIP.</summary>
    public ulong TrapAddress => Context?.Address ?? _registers.Rip;

    /// <summary>Gets the CR3 of the trapping context with the PCID and no-flush bits masked off.</summary>
    public ulong PageTableRoot => _specialRegisters.Value.Cr3 & Memory.PageTableBits.Cr3AddressMask;

    /// <inheritdoc />
    public override string ToString() =>
        $"vcpu {Vcpu} {Direction} {Mechanism} rax=0x{_registers.Rax:x} cr3=0x{_specialRegisters.Value.Cr3:x} t={Timestamp}";
}

/// <summary>
/// An immutable copy of a vCPU's special registers that several <see cref="NitroEvent"/>s can
/// share while the registers stay the same (trace replay creates one per change, not per event).
/// </summary>
internal sealed class SpecialRegistersSnapshot
{
    public SpecialRegistersSnapshot(in SpecialRegisters value) => Value = value;

    // A field, not a property, so that NitroEvent can hand out a ref readonly to it.
    public readonly SpecialRegisters Value;
}
