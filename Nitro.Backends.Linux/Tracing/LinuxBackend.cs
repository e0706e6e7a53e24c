using System.Buffers.Binary;
using System.Collections.Frozen;
using Nitro.Backends.Linux.Decoding;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// The x86-64 Linux back end: turns traps at the kernel's syscall entry, its return paths, or the
/// handlers of requested calls into <see cref="Syscall"/> values with the calling task, the call's
/// name from the guest's own <c>sys_call_table</c>, decoded arguments, and on exit the return value
/// and errno. Pairs exits with entries by task, so exits carry their entry. Also plans where a
/// breakpoint listener must trap (<see cref="ITrapPlanner"/>).
/// </summary>
public sealed class LinuxBackend : SyscallBackend, ITrapPlanner
{
    private const int MaxPathDepth = 32;
    private const int MaxPending = 1 << 16;

    private readonly IGuestMemory _memory;
    private readonly LinuxKernelProfile _profile;
    private readonly LinuxTrapPoints _points;
    private readonly TranslationCache _cache = new();
    private readonly Dictionary<long, Syscall> _pending = [];
    private readonly Dictionary<int, ulong> _perCpuBase = [];
    private readonly Dictionary<ulong, string?> _exePaths = [];
    private readonly Lock _gate = new();
    private FrozenDictionary<ulong, SyscallTableEntry> _handlers = FrozenDictionary<ulong, SyscallTableEntry>.Empty;
    private ExitGate? _exitGate;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="memory">The guest's physical memory.</param>
    /// <param name="profile">The kernel profile read from the same guest.</param>
    /// <param name="hookFailurePolicy">What to do when a hook throws.</param>
    /// <exception cref="ProfileException">The kernel's entry code is not what the back end can trap.</exception>
    public LinuxBackend(IGuestMemory memory, LinuxKernelProfile profile, HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
        : base(hookFailurePolicy)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _profile = profile ?? throw new ArgumentNullException(nameof(profile));
        _points = new LinuxTrapPoints(memory, profile);
    }

    /// <summary>Gets the kernel profile.</summary>
    public LinuxKernelProfile Profile => _profile;

    /// <summary>Gets the translation cache shared by this back end's address spaces.</summary>
    /// <remarks>Guest page tables change while the guest runs; the back end invalidates it at every trap.</remarks>
    public TranslationCache TranslationCache => _cache;

    /// <inheritdoc />
    public TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls)
    {
        var exits = new[] { _points.Return };
        if (syscalls is null || syscalls.Count == 0)
        {
            lock (_gate)
            {
                _exitGate = null;
                _handlers = FrozenDictionary<ulong, SyscallTableEntry>.Empty;
            }

            return new TrapPlan([_points.Entry], exits);
        }

        var handlers = new Dictionary<ulong, SyscallTableEntry>();
        var points = new List<TrapPoint>();
        foreach (var name in syscalls)
        {
            var entry = _profile.Syscalls.FirstOrDefault(s => s.IsImplemented && string.Equals(s.Name, name, StringComparison.Ordinal))
                ?? throw new ArgumentException($"'{name}' is not a system call of this guest ({_profile.Banner.Trim()}).", nameof(syscalls));
            if (handlers.TryAdd(entry.Handler, entry))
            {
                points.Add(_points.Handler(entry));
            }
        }

        var gate = new ExitGate();
        lock (_gate)
        {
            _exitGate = gate;
            _handlers = handlers.ToFrozenDictionary();
        }

        return new TrapPlan(points, exits, [.. handlers.Values.Select(h => (long)h.Number)], gate);
    }

    /// <inheritdoc />
    protected override Syscall? Decode(NitroEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        _cache.Invalidate();
        var kernel = X86AddressSpace.FromRegisters(_memory, in @event.SpecialRegisters, _cache, kpti: true);
        var rip = @event.Registers.Rip;
        lock (_gate)
        {
            if (rip == _points.Entry.Address)
            {
                return Enter(@event, kernel, (long)@event.Registers.Rax, new ArgumentMap(@event, CallingConvention.LinuxX64, kernel), gated: false);
            }

            if (_handlers.TryGetValue(rip, out var handler))
            {
                return Enter(@event, kernel, handler.Number, HandlerArguments(@event, kernel), gated: true);
            }

            if (rip == _points.Return.Address)
            {
                return Exit(@event, kernel);
            }
        }

        return null;
    }

    private Syscall Enter(NitroEvent @event, X86AddressSpace kernel, long number, ArgumentMap arguments, bool gated)
    {
        var process = ReadCurrentTask(@event.Vcpu, kernel);
        var (name, fullName) = Names(number);
        var decoded = LinuxSyscallDecoder.Default.DecodeEntry(name, arguments, kernel);
        var call = new Syscall(@event, number, name, fullName, process, arguments, process?.Pid, decoded);

        // exit and exit_group never return: waiting for their exit would keep exits armed forever.
        if (process is not null && name is not ("exit" or "exit_group"))
        {
            if (_pending.Count >= MaxPending)
            {
                _pending.Clear();
                _exitGate?.Reset();
            }

            var replaced = _pending.Remove(process.Pid);
            _pending[process.Pid] = call;
            if (gated && !replaced)
            {
                _exitGate?.Enter();
            }
        }

        return call;
    }

    private Syscall? Exit(NitroEvent @event, X86AddressSpace kernel)
    {
        // Right after the dispatcher returns, RSP points to the caller's saved registers.
        var user = ReadPtRegs(@event, kernel, @event.Registers.Rsp, SyscallDirection.Exit, out var origAx);
        var process = ReadCurrentTask(@event.Vcpu, kernel);
        var returnValue = (long)user.Registers.Rax;
        var arguments = new ArgumentMap(user, CallingConvention.LinuxX64, kernel);
        if (process is not null && _pending.Remove(process.Pid, out var entry))
        {
            if (_handlers.ContainsKey(entry.Event.Registers.Rip))
            {
                _exitGate?.Exit();
            }

            var decoded = LinuxSyscallDecoder.Default.DecodeExit(entry.Name, returnValue, entry.Arguments, kernel);
            return new Syscall(user, entry.Number, entry.Name, entry.FullName, process, arguments, process.Pid, decoded).WithEntry(entry);
        }

        // With handler traps, exits of calls nobody asked for pass here while the gate is open.
        if (_exitGate is not null)
        {
            return null;
        }

        // A call that began before the listener attached: its number is still in pt_regs.orig_ax.
        var number = (long)origAx;
        var (name, fullName) = Names(number);
        var exitDecoded = LinuxSyscallDecoder.Default.DecodeExit(name, returnValue, arguments, kernel);
        return new Syscall(user, number, name, fullName, process, arguments, process?.Pid, exitDecoded);
    }

    /// <summary>The short and the handler's name of a call number, from the guest's sys_call_table.</summary>
    private (string Name, string FullName) Names(long number) =>
        number >= 0 && number < _profile.Syscalls.Count
            ? (_profile.Syscalls[(int)number].Name, _profile.Syscalls[(int)number].HandlerName)
            : ("unknown", "unknown");

    /// <summary>At a handler's first instruction RDI points to the caller's saved registers (pt_regs).</summary>
    private static ArgumentMap HandlerArguments(NitroEvent @event, X86AddressSpace kernel) =>
        new(ReadPtRegs(@event, kernel, @event.Registers.Rdi, SyscallDirection.Enter, out _), CallingConvention.LinuxX64, kernel);

    /// <summary>
    /// An event whose registers are the user registers saved in a pt_regs frame: RAX is the number
    /// on entry (orig_ax) and the return value on exit (ax). A live trap's event gets a handle on
    /// that frame, so that synchronous observers change what the handler reads or the thread gets back.
    /// </summary>
    private static NitroEvent ReadPtRegs(NitroEvent @event, X86AddressSpace kernel, ulong frame, SyscallDirection direction, out ulong origAx)
    {
        var user = PtRegsFrame.Read(kernel, frame, direction, out origAx);
        var handle = @event.Handle?.ForSavedUserFrame(frame, new PtRegsFrame(kernel, frame, direction, @event));
        return new NitroEvent(@event.Vcpu, direction, @event.Mechanism, user, @event.SpecialRegisters, @event.Timestamp, handle);
    }

    private LinuxProcess? ReadCurrentTask(int vcpu, X86AddressSpace kernel)
    {
        try
        {
            if (!_perCpuBase.TryGetValue(vcpu, out var perCpu))
            {
                Span<byte> value = stackalloc byte[8];
                _memory.Read(_profile.PerCpuOffset + ((ulong)vcpu * 8) - _profile.ImageDelta, value);
                perCpu = BinaryPrimitives.ReadUInt64LittleEndian(value);
                _perCpuBase[vcpu] = perCpu;
            }

            var task = kernel.ReadUInt64(perCpu + _profile.CurrentTaskPerCpuOffset);
            return ReadTask(kernel, task);
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return null;
        }
    }

    private LinuxProcess ReadTask(X86AddressSpace kernel, ulong task)
    {
        var offsets = _profile.Offsets;
        var pid = (int)kernel.ReadUInt32(task + offsets.TaskPid);
        var tgid = (int)kernel.ReadUInt32(task + offsets.TaskTgid);
        var comm = kernel.ReadUtf8String(task + offsets.TaskComm, offsets.TaskCommLength);
        int? parentPid = null;
        var parent = kernel.ReadUInt64(task + offsets.TaskRealParent);
        if (parent != 0 && parent != task)
        {
            parentPid = (int)kernel.ReadUInt32(parent + offsets.TaskTgid);
        }

        string? path = null;
        var mm = kernel.ReadUInt64(task + offsets.TaskMm);
        if (mm != 0)
        {
            var exe = kernel.ReadUInt64(mm + offsets.MmExeFile);
            if (exe != 0 && !_exePaths.TryGetValue(exe, out path))
            {
                path = ReadPath(kernel, kernel.ReadUInt64(exe + offsets.FilePath + offsets.PathDentry));
                if (_exePaths.Count > 4096)
                {
                    _exePaths.Clear();
                }

                _exePaths[exe] = path;
            }
        }

        return new LinuxProcess(pid, tgid, comm, parentPid, path, task);
    }

    private string? ReadPath(X86AddressSpace kernel, ulong dentry)
    {
        var offsets = _profile.Offsets;
        var parts = new List<string>();
        try
        {
            for (var depth = 0; depth < MaxPathDepth && dentry != 0; depth++)
            {
                var parent = kernel.ReadUInt64(dentry + offsets.DentryParent);
                if (parent == dentry)
                {
                    break; // the root dentry is its own parent
                }

                var name = kernel.ReadUtf8String(kernel.ReadUInt64(dentry + offsets.DentryName + offsets.QstrName), 256);
                parts.Add(name);
                dentry = parent;
            }
        }
        catch (GuestMemoryException)
        {
            return null;
        }

        parts.Reverse();
        return "/" + string.Join('/', parts);
    }
}
