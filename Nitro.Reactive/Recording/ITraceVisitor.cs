using Nitro.Reactive.Events;

namespace Nitro.Reactive.Recording;

/// <summary>
/// Receives the records of a trace from <see cref="TraceReader"/>, in file order, without a
/// heap allocation per raw event.
/// </summary>
public interface ITraceVisitor
{
    /// <summary>Called for each raw event record.</summary>
    /// <param name="e">The event; its register references are valid only during the call.</param>
    void OnEvent(in TraceEventView e);

    /// <summary>Called for each decoded system call record.</summary>
    /// <param name="e">The event the call was decoded from (the last event of the same vCPU); valid only during the call.</param>
    /// <param name="syscall">The decoded fields (a value: copy it to keep it).</param>
    void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall);
}

/// <summary>
/// A raw event as read from a trace, by reference into the reader's buffers: no copy, no
/// allocation. Valid only during the visitor call that received it.
/// </summary>
public readonly ref struct TraceEventView
{
    private readonly ref readonly Registers _registers;
    private readonly ref readonly SpecialRegisters _specialRegisters;

    internal TraceEventView(
        int vcpu,
        SyscallDirection direction,
        SyscallMechanism mechanism,
        long timestamp,
        bool specialRegistersChanged,
        long offset,
        ref readonly Registers registers,
        ref readonly SpecialRegisters specialRegisters)
    {
        Vcpu = vcpu;
        Direction = direction;
        Mechanism = mechanism;
        Timestamp = timestamp;
        SpecialRegistersChanged = specialRegistersChanged;
        Offset = offset;
        _registers = ref registers;
        _specialRegisters = ref specialRegisters;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }

    /// <summary>Gets entry or exit.</summary>
    public SyscallDirection Direction { get; }

    /// <summary>Gets the trapping instruction.</summary>
    public SyscallMechanism Mechanism { get; }

    /// <summary>Gets the host monotonic time of the trap in nanoseconds (see <see cref="TraceHeader.ToWallClock"/>).</summary>
    public long Timestamp { get; }

    /// <summary>Gets whether the record carried special registers (they differ from the vCPU's previous event, or it is its first).</summary>
    public bool SpecialRegistersChanged { get; }

    /// <summary>Gets the absolute file offset of the event record.</summary>
    public long Offset { get; }

    /// <summary>Gets the general-purpose registers.</summary>
    public ref readonly Registers Registers => ref _registers;

    /// <summary>Gets the special registers (carried over from the vCPU's previous event when unchanged).</summary>
    public ref readonly SpecialRegisters SpecialRegisters => ref _specialRegisters;

    /// <summary>Copies the view into a <see cref="NitroEvent"/> (without a vCPU handle).</summary>
    /// <returns>A new event.</returns>
    public NitroEvent ToEvent() => new(Vcpu, Direction, Mechanism, in _registers, in _specialRegisters, Timestamp);
}

/// <summary>The decoded fields of a system call record, passed by reference to the visitor.</summary>
public readonly struct TraceSyscallRecord
{
    internal TraceSyscallRecord(
        int vcpu,
        long number,
        string name,
        string fullName,
        Syscalls.CallingConvention convention,
        long? threadId,
        Syscalls.Process? process,
        IReadOnlyDictionary<string, object?>? decoded,
        long offset)
    {
        Vcpu = vcpu;
        Number = number;
        Name = name;
        FullName = fullName;
        Convention = convention;
        ThreadId = threadId;
        Process = process;
        Decoded = decoded;
        Offset = offset;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }

    /// <summary>Gets the system call number.</summary>
    public long Number { get; }

    /// <summary>Gets the short name.</summary>
    public string Name { get; }

    /// <summary>Gets the kernel's full name.</summary>
    public string FullName { get; }

    /// <summary>Gets the calling convention of the arguments.</summary>
    public Syscalls.CallingConvention Convention { get; }

    /// <summary>Gets the thread identity, when recorded.</summary>
    public long? ThreadId { get; }

    /// <summary>Gets the process, when recorded (with its properties).</summary>
    public Syscalls.Process? Process { get; }

    /// <summary>Gets the decoded arguments, or <see langword="null"/> when nothing was decoded.</summary>
    public IReadOnlyDictionary<string, object?>? Decoded { get; }

    /// <summary>Gets the absolute file offset of the record.</summary>
    public long Offset { get; }
}

/// <summary>The totals stored in a trace's end record, checked against what was read.</summary>
/// <param name="Events">The number of event records.</param>
/// <param name="Syscalls">The number of syscall records.</param>
/// <param name="Strings">The number of interned strings.</param>
/// <param name="Blocks">The number of blocks, the last included.</param>
public readonly record struct TraceTotals(long Events, long Syscalls, long Strings, long Blocks);
