using Nitro.Reactive.Events;

namespace Nitro.Reactive.Syscalls;

/// <summary>
/// A system call entry or exit as an OS back end decoded it from a <see cref="NitroEvent"/>:
/// number, name, process, arguments, decoded values and — on exit — the return value, the
/// matching entry and the duration.
/// </summary>
/// <remarks>
/// A call does not change once delivered (only <see cref="Arguments"/> writes, while a live vCPU
/// is paused, and what a replayed call builds on first use: its <see cref="Event"/> and its
/// <see cref="Arguments"/>, each built once even when several threads ask at the same time, the
/// same object every time after). So observers may buffer, window or keep calls after
/// <c>OnNext</c> returns and read them later, from any thread: a call replayed from a trace
/// (<c>TraceReplay.Syscalls</c>) holds its own copy of the trap's registers and refers to no reader
/// buffer, and its <see cref="Process"/> and <see cref="Decoded"/> may be the same immutable
/// objects as other calls' of that trace.
/// </remarks>
public sealed class Syscall
{
    private static readonly IReadOnlyDictionary<string, object?> s_nothingDecoded =
        new Dictionary<string, object?>(StringComparer.Ordinal);

    // A replayed call keeps the trap's data here and builds its NitroEvent only when asked
    // (one object per call instead of two); a call built from an event keeps that event, and
    // _registers and _specialRegisters stay unused.
    private readonly Registers _registers;
    private readonly SpecialRegistersSnapshot? _specialRegisters;
    private readonly long _timestamp;
    private readonly int _vcpu;
    private readonly SyscallDirection _direction;
    private readonly SyscallMechanism _mechanism;
    private readonly CallingConvention? _convention;
    private NitroEvent? _event;
    private ArgumentMap? _arguments;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="event">The trap it was decoded from.</param>
    /// <param name="number">The system call number (for Windows: table and index, as in RAX).</param>
    /// <param name="name">The short name (<c>openat</c>, <c>NtOpenFile</c>).</param>
    /// <param name="fullName">The kernel's full name (<c>__x64_sys_openat</c>, <c>nt!NtOpenFile</c>).</param>
    /// <param name="process">The calling process, when known.</param>
    /// <param name="arguments">The raw arguments.</param>
    /// <param name="threadId">The calling thread's identity (Linux task pid, Windows thread id), used to pair entries with exits.</param>
    /// <param name="decoded">Decoded argument values by name (strings, integers, <see cref="Unreadable"/> …).</param>
    public Syscall(
        NitroEvent @event,
        long number,
        string name,
        string fullName,
        Process? process,
        ArgumentMap arguments,
        long? threadId = null,
        IReadOnlyDictionary<string, object?>? decoded = null)
    {
        _event = @event ?? throw new ArgumentNullException(nameof(@event));
        _timestamp = @event.Timestamp;
        _vcpu = @event.Vcpu;
        _direction = @event.Direction;
        _mechanism = @event.Mechanism;
        Number = number;
        Name = name ?? throw new ArgumentNullException(nameof(name));
        FullName = fullName ?? throw new ArgumentNullException(nameof(fullName));
        Process = process;
        _arguments = arguments ?? throw new ArgumentNullException(nameof(arguments));
        ThreadId = threadId;
        Decoded = decoded ?? s_nothingDecoded;
    }

    /// <summary>
    /// Initializes a call from a trap's data: a replayed call, whose <see cref="Event"/> and
    /// <see cref="Arguments"/> are built on first use (most replayed calls are never asked for
    /// them), or the start of a <see cref="WithEntry"/> copy.
    /// </summary>
    internal Syscall(
        in TrapData trap,
        long number,
        string name,
        string fullName,
        Process? process,
        CallingConvention convention,
        long? threadId,
        IReadOnlyDictionary<string, object?>? decoded)
    {
        _registers = trap.Registers;
        _specialRegisters = trap.SpecialRegisters;
        _timestamp = trap.Timestamp;
        _vcpu = trap.Vcpu;
        _direction = trap.Direction;
        _mechanism = trap.Mechanism;
        Number = number;
        Name = name;
        FullName = fullName;
        Process = process;
        _convention = convention;
        ThreadId = threadId;
        Decoded = decoded ?? s_nothingDecoded;
    }

    // WithEntry: the same call linked to its entry, with the same trap data. It shares the event and
    // the arguments where they are built; a replayed exit whose event is not built yet gives the
    // copy only the trap's data, from which it builds its own when asked.
    private Syscall(Syscall exit, Syscall entry)
        : this(exit.Trap, exit.Number, exit.Name, exit.FullName, exit.Process ?? entry.Process, exit.Convention, exit.ThreadId, exit.Decoded)
    {
        _event = Volatile.Read(ref exit._event);
        _arguments = Volatile.Read(ref exit._arguments);
        ReadLate = exit.ReadLate;
        Entry = entry;
    }

    /// <summary>
    /// Gets the trap this call was decoded from. A replayed call builds it on the first read (the
    /// same object every time after); <see cref="Direction"/>, <see cref="Vcpu"/>,
    /// <see cref="Timestamp"/> and <see cref="ReturnValue"/> do not need it.
    /// </summary>
    public NitroEvent Event => Volatile.Read(ref _event) ?? CreateEvent();

    /// <summary>Gets the system call number.</summary>
    public long Number { get; }

    /// <summary>Gets the short name.</summary>
    public string Name { get; }

    /// <summary>Gets the kernel's full name of the handler.</summary>
    public string FullName { get; }

    /// <summary>Gets the calling process, when the back end could tell.</summary>
    public Process? Process { get; }

    /// <summary>Gets the raw arguments.</summary>
    public ArgumentMap Arguments => _arguments ?? CreateArguments();

    /// <summary>Gets the calling thread's identity, when the back end could tell.</summary>
    public long? ThreadId { get; }

    /// <summary>Gets decoded argument values by name; empty when nothing was decoded.</summary>
    public IReadOnlyDictionary<string, object?> Decoded { get; }

    /// <summary>Gets whether this is the entry or the exit.</summary>
    public SyscallDirection Direction => _direction;

    /// <summary>Gets the vCPU that trapped.</summary>
    public int Vcpu => _vcpu;

    /// <summary>Gets the host monotonic time of the trap in nanoseconds (the <see cref="Event"/>'s).</summary>
    public long Timestamp => _timestamp;

    /// <summary>Gets the return value (RAX, signed) on exit; <see langword="null"/> on entry.</summary>
    public long? ReturnValue => _direction == SyscallDirection.Exit ? (long)TrapRegisters.Rax : null;

    /// <summary>Gets the matching entry of an exit, once paired (<c>PairWithExit</c> or the back end).</summary>
    public Syscall? Entry { get; private init; }

    /// <summary>
    /// Gets what of this call was read from guest memory after its vCPU had gone on (a streaming
    /// listener: <see cref="TrapContext.Deferred"/>): <c>process</c> and the names of
    /// <see cref="Decoded"/> values read from memory (paths, buffers, structures, exit outputs).
    /// They show memory as it was a little later than the trap, which the thread may have changed
    /// meanwhile. Empty when everything was read while the vCPU waited; values from registers (the
    /// number, <see cref="Arguments"/>, <see cref="ReturnValue"/>) are always exact.
    /// </summary>
    public IReadOnlyList<string> ReadLate { get; init; } = [];

    /// <summary>Gets the time from the matching entry to this exit, once paired.</summary>
    public TimeSpan? Duration => Entry is null ? null : TimeSpan.FromTicks((_timestamp - Entry._timestamp) / 100);

    /// <summary>Gets the trap's data as this call holds it (no special registers of its own when it was built from an event).</summary>
    private TrapData Trap => new(_vcpu, _direction, _mechanism, in _registers, _specialRegisters, _timestamp);

    /// <summary>Gets the event if it is built (always, for a call that was not replayed).</summary>
    internal NitroEvent? EventIfBuilt => Volatile.Read(ref _event);

    /// <summary>Gets the trapping instruction without building the event.</summary>
    internal SyscallMechanism Mechanism => _mechanism;

    /// <summary>Gets the trap's registers without building the event.</summary>
    internal ref readonly Registers TrapRegisters => ref _specialRegisters is null ? ref _event!.Registers : ref _registers;

    /// <summary>Gets the trap's special registers without building the event.</summary>
    internal ref readonly SpecialRegisters TrapSpecialRegisters => ref _specialRegisters is null ? ref _event!.SpecialRegisters : ref _specialRegisters.Value;

    /// <summary>Gets the arguments if they were built (only then can they have been modified).</summary>
    internal ArgumentMap? ArgumentsIfBuilt => Volatile.Read(ref _arguments);

    /// <summary>Gets the calling convention without building the arguments.</summary>
    internal CallingConvention Convention => _convention ?? _arguments!.Convention;

    /// <summary>
    /// Changes the result the calling thread gets from this call. Call it from a synchronous
    /// observer of the exit, while the vCPU is paused. It writes RAX through
    /// <see cref="NitroEvent.Handle"/>: when <see cref="VcpuHandle.Target"/> is
    /// <see cref="VcpuRegisterTarget.SavedUserFrame"/> (the Linux back end's exits) that is the
    /// saved frame's RAX slot in guest memory (<c>pt_regs-&gt;ax</c>), which the kernel restores
    /// into RAX on its way back to user mode; otherwise the vCPU's own RAX.
    /// <see cref="ReturnValue"/> and <see cref="Decoded"/> keep what the kernel returned.
    /// </summary>
    /// <param name="value">The result, as the kernel returns it (a negative errno for a failure on Linux).</param>
    /// <exception cref="InvalidOperationException">This is an entry, or the event is not live (recorded or synthetic).</exception>
    /// <exception cref="VcpuResumedException">The vCPU has resumed (the observer is not synchronous).</exception>
    /// <exception cref="Memory.GuestMemoryException">The saved frame is not mapped.</exception>
    /// <exception cref="NotSupportedException">The guest memory is read-only.</exception>
    public void SetReturnValue(long value)
    {
        if (Direction != SyscallDirection.Exit)
        {
            throw new InvalidOperationException($"{Name} has not returned yet: change its return value on the exit, not the entry.");
        }

        // A replayed call (no event built yet) has no live vCPU either.
        var handle = Volatile.Read(ref _event)?.Handle ?? throw new InvalidOperationException(
            "This exit has no live vCPU (it was replayed or built in a test), so its return value cannot be changed.");
        var registers = handle.GetRegisters();
        registers.Rax = (ulong)value;
        handle.SetRegisters(in registers);
    }

    /// <summary>
    /// Returns a copy of this exit linked to its entry. It shares this exit's <see cref="Event"/>
    /// and <see cref="Arguments"/> where they are built; the copy of a replayed exit whose event is
    /// not built yet builds its own, with the same values, when asked.
    /// </summary>
    /// <param name="entry">The entry of the same call.</param>
    /// <returns>The linked exit.</returns>
    /// <exception cref="InvalidOperationException">This is not an exit, or <paramref name="entry"/> is not an entry.</exception>
    public Syscall WithEntry(Syscall entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Direction != SyscallDirection.Exit || entry.Direction != SyscallDirection.Enter)
        {
            throw new InvalidOperationException("Only an exit can be linked, and only to an entry.");
        }

        return new Syscall(this, entry);
    }

    /// <inheritdoc />
    public override string ToString() =>
        Direction == SyscallDirection.Enter
            ? $"{Process?.ToString() ?? "?"} {Name}({Number}) enter"
            : $"{Process?.ToString() ?? "?"} {Name}({Number}) exit = {ReturnValue}";

    // Only replayed calls get here: the event holds nothing that could differ between two racing creators.
    private NitroEvent CreateEvent()
    {
        var created = NitroEvent.WithSharedSpecialRegisters(_vcpu, _direction, _mechanism, in _registers, _specialRegisters!, _timestamp);
        return Interlocked.CompareExchange(ref _event, created, null) ?? created;
    }

    // Only replayed calls get here: no guest memory, so the map holds no state that could differ between two racing creators.
    private ArgumentMap CreateArguments()
    {
        var created = new ArgumentMap(Event, _convention!, memory: null);
        return Interlocked.CompareExchange(ref _arguments, created, null) ?? created;
    }
}

/// <summary>The trap a replayed call was decoded from, as the trace reader hands it over (see the replay constructor of <see cref="Syscall"/>).</summary>
internal readonly ref struct TrapData(
    int vcpu, SyscallDirection direction, SyscallMechanism mechanism, ref readonly Registers registers, SpecialRegistersSnapshot? specialRegisters, long timestamp)
{
    public readonly ref readonly Registers Registers = ref registers;

    public int Vcpu { get; } = vcpu;

    public SyscallDirection Direction { get; } = direction;

    public SyscallMechanism Mechanism { get; } = mechanism;

    // Null only for the WithEntry copy of a call built from an event, which shares that event.
    public SpecialRegistersSnapshot? SpecialRegisters { get; } = specialRegisters;

    public long Timestamp { get; } = timestamp;
}
