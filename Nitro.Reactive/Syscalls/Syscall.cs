using Nitro.Reactive.Events;

namespace Nitro.Reactive.Syscalls;

/// <summary>
/// A system call entry or exit as an OS back end decoded it from a <see cref="NitroEvent"/>:
/// number, name, process, arguments, decoded values and — on exit — the return value, the
/// matching entry and the duration.
/// </summary>
/// <remarks>
/// <para>
/// Every call is immutable once delivered (except <see cref="Arguments"/> writes while a live
/// vCPU is paused), so observers may buffer, window or keep calls after <c>OnNext</c> returns
/// and read them later, from any thread.
/// </para>
/// <para>
/// A call replayed from a trace (<c>TraceReplay.Syscalls</c>) is one object holding its own copy
/// of the registers: its <see cref="Event"/> and <see cref="Arguments"/> are built from that copy
/// on first use (once, also when several threads ask at the same time). It refers to no reader
/// buffer, so it reads the same however long it is kept and however far the replay has gone;
/// its process and decoded values may be the same (immutable) objects as other calls'.
/// </para>
/// </remarks>
public sealed class Syscall
{
    private static readonly IReadOnlyDictionary<string, object?> s_nothingDecoded =
        new Dictionary<string, object?>(StringComparer.Ordinal);

    private readonly CallingConvention? _convention;
    private ArgumentMap? _arguments;

    // A replayed call's event is built on first use from its own copy of the registers.
    private NitroEvent? _event;
    private readonly Registers _registers;
    private readonly SpecialRegistersSnapshot? _specialRegisters;
    private readonly long _timestamp;
    private readonly int _vcpu;
    private readonly SyscallDirection _direction;
    private readonly SyscallMechanism _mechanism;

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
        (_vcpu, _direction, _mechanism, _timestamp) = (@event.Vcpu, @event.Direction, @event.Mechanism, @event.Timestamp);
        Number = number;
        Name = name ?? throw new ArgumentNullException(nameof(name));
        FullName = fullName ?? throw new ArgumentNullException(nameof(fullName));
        Process = process;
        _arguments = arguments ?? throw new ArgumentNullException(nameof(arguments));
        ThreadId = threadId;
        Decoded = decoded ?? s_nothingDecoded;
    }

    /// <summary>Initializes a replayed call whose event and <see cref="Arguments"/> are built on first use.</summary>
    internal Syscall(
        in Registers registers,
        SpecialRegistersSnapshot specialRegisters,
        int vcpu,
        SyscallDirection direction,
        SyscallMechanism mechanism,
        long timestamp,
        long number,
        string name,
        string fullName,
        Process? process,
        CallingConvention convention,
        long? threadId,
        IReadOnlyDictionary<string, object?>? decoded)
    {
        _registers = registers;
        _specialRegisters = specialRegisters;
        (_vcpu, _direction, _mechanism, _timestamp) = (vcpu, direction, mechanism, timestamp);
        Number = number;
        Name = name;
        FullName = fullName;
        Process = process;
        _convention = convention;
        ThreadId = threadId;
        Decoded = decoded ?? s_nothingDecoded;
    }

    // A copy linked to its entry (WithEntry): the same event, or the same registers to build it from.
    private Syscall(Syscall source, Process? process, Syscall entry)
    {
        // Arguments first: once they are built, so is the event they read.
        _arguments = Volatile.Read(ref source._arguments);
        _event = Volatile.Read(ref source._event);
        _registers = source._registers;
        _specialRegisters = source._specialRegisters;
        (_vcpu, _direction, _mechanism, _timestamp) = (source._vcpu, source._direction, source._mechanism, source._timestamp);
        Number = source.Number;
        Name = source.Name;
        FullName = source.FullName;
        Process = process;
        _convention = source._convention;
        ThreadId = source.ThreadId;
        Decoded = source.Decoded;
        Entry = entry;
    }

    /// <summary>Gets the trap this call was decoded from.</summary>
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

    /// <summary>Gets the return value (RAX, signed) on exit; <see langword="null"/> on entry.</summary>
    public long? ReturnValue => _direction == SyscallDirection.Exit ? (long)Registers.Rax : null;

    /// <summary>Gets the matching entry of an exit, once paired (<c>PairWithExit</c> or the back end).</summary>
    public Syscall? Entry { get; private init; }

    /// <summary>Gets the time from the matching entry to this exit, once paired.</summary>
    public TimeSpan? Duration => Entry is null ? null : TimeSpan.FromTicks((_timestamp - Entry._timestamp) / 100);

    /// <summary>Gets the event's timestamp without building a replayed call's event.</summary>
    internal long Timestamp => _timestamp;

    /// <summary>Gets the event's mechanism without building a replayed call's event.</summary>
    internal SyscallMechanism Mechanism => _mechanism;

    /// <summary>Gets the event's general registers without building a replayed call's event.</summary>
    internal ref readonly Registers Registers => ref _specialRegisters is null ? ref Event.Registers : ref _registers;

    /// <summary>Gets the event's CR3 without building a replayed call's event.</summary>
    internal ulong Cr3 => _specialRegisters is { } special ? special.Value.Cr3 : Event.SpecialRegisters.Cr3;

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

        var handle = Event.Handle ?? throw new InvalidOperationException(
            "This exit has no live vCPU (it was replayed or built in a test), so its return value cannot be changed.");
        var registers = handle.GetRegisters();
        registers.Rax = (ulong)value;
        handle.SetRegisters(in registers);
    }

    /// <summary>Returns a copy of this exit linked to its entry.</summary>
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

        return new Syscall(this, Process ?? entry.Process, entry);
    }

    /// <inheritdoc />
    public override string ToString() =>
        Direction == SyscallDirection.Enter
            ? $"{Process?.ToString() ?? "?"} {Name}({Number}) enter"
            : $"{Process?.ToString() ?? "?"} {Name}({Number}) exit = {ReturnValue}";

    private NitroEvent CreateEvent()
    {
        // Only replayed calls get here: their registers never change, so racing creators build equal events.
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
