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
/// 32-bit calls (<c>int 0x80</c>, <c>sysenter</c>, 32-bit <c>syscall</c>) are traced too where the
/// kernel has them: they carry <see cref="SyscallMechanism.Sysenter"/>, the
/// <see cref="CallingConvention.LinuxIa32"/> convention and their ia32 number and name.
/// </summary>
public sealed class LinuxBackend : SyscallBackend, ITrapPlanner
{
    private const int MaxPathDepth = 32;
    private const int MaxPending = 1 << 16;
    private const uint TsCompat = 0x0002;

    private readonly IGuestMemory _memory;
    private readonly LinuxKernelProfile _profile;
    private readonly LinuxTrapPoints _points;
    private readonly TranslationCache _cache = new();
    private readonly Dictionary<long, Syscall> _pending = [];
    private readonly Dictionary<int, ulong> _perCpuBase = [];
    // By (file, dentry, name): a struct file or dentry freed and reused for another executable must not give the old path.
    private readonly Dictionary<(ulong File, ulong Dentry, ulong Name), string?> _exePaths = [];
    private readonly Lock _gate = new();
    private FrozenDictionary<ulong, SyscallTableEntry> _handlers = FrozenDictionary<ulong, SyscallTableEntry>.Empty;
    private FrozenDictionary<ulong, SyscallTableEntry> _ia32Handlers = FrozenDictionary<ulong, SyscallTableEntry>.Empty;
    private ExitGate? _exitGate;
    private string? _ia32PlanError;

    // Callback plans (the QEMU plugin) filter inside the hypervisor; these sets drop anything else that gets through.
    private FrozenSet<long>? _requested;
    private FrozenSet<long>? _requestedIa32;

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

    /// <summary>
    /// Gets why 32-bit (ia32) calls are not traced, or not all of them (no ia32 table, a gate or, in the
    /// last plan, an ia32 handler the listener cannot trap); <see langword="null"/> when they all are.
    /// 64-bit tracing does not depend on it.
    /// </summary>
    public string? Ia32Error => _points.Ia32Error ?? _ia32PlanError;

    /// <summary>Gets the translation cache shared by this back end's address spaces.</summary>
    /// <remarks>Guest page tables change while the guest runs; the back end invalidates it at every trap.</remarks>
    public TranslationCache TranslationCache => _cache;

    /// <inheritdoc />
    /// <remarks>
    /// A named call is trapped at its 64-bit handler and, where the kernel has a separate one, at its
    /// ia32 handler (<c>__ia32_sys_*</c>), so both kinds of callers are seen.
    /// </remarks>
    public TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls)
    {
        TrapPoint[] exits = [_points.Return, .. _points.Ia32Exits];
        if (syscalls is null || syscalls.Count == 0)
        {
            SetPlanState(null, FrozenDictionary<ulong, SyscallTableEntry>.Empty, FrozenDictionary<ulong, SyscallTableEntry>.Empty, null, null, null);

            return new TrapPlan([_points.Entry, .. _points.Ia32Entries.Values.Select(e => e.Point)], exits);
        }

        var handlers = new Dictionary<ulong, SyscallTableEntry>();
        var ia32Handlers = new Dictionary<ulong, SyscallTableEntry>();
        var points = new Dictionary<ulong, TrapPoint>();
        string? planError = null;
        foreach (var name in syscalls)
        {
            var entry = FindImplemented(_profile.Syscalls, name);
            var ia32 = _points.Ia32Exits.Count > 0 ? FindImplemented(_profile.Ia32Syscalls, name) : null;
            if (entry is null && ia32 is null)
            {
                var why = _points.Ia32Error is { } error ? $" (32-bit calls are not traced: {error})" : string.Empty;
                throw new ArgumentException($"'{name}' is not a system call of this guest ({_profile.Banner.Trim()}).{why}", nameof(syscalls));
            }

            if (entry is not null && handlers.TryAdd(entry.Handler, entry))
            {
                points.TryAdd(entry.Handler, _points.Handler(entry));
            }

            if (ia32 is not null && !ia32Handlers.ContainsKey(ia32.Handler))
            {
                try
                {
                    points.TryAdd(ia32.Handler, _points.Handler(ia32, SyscallMechanism.Sysenter));
                    ia32Handlers.Add(ia32.Handler, ia32);
                }
                catch (ProfileException e) when (entry is not null)
                {
                    // The 64-bit handler is trapped; the 32-bit callers of this name are not.
                    planError = e.Message;
                }
            }
        }

        var gate = new ExitGate();
        SetPlanState(gate, handlers.ToFrozenDictionary(), ia32Handlers.ToFrozenDictionary(), planError, null, null);

        // Numbers are for in-kernel filters of the 64-bit entry (Nitro's ioctls); ia32 numbers differ.
        return new TrapPlan([.. points.Values], exits, [.. handlers.Values.Select(h => (long)h.Number)], gate);
    }

    /// <inheritdoc />
    /// <remarks>
    /// For <see cref="TrapStyle.Callback"/> listeners (the QEMU plugin), which read no registers, the
    /// plan traps where <c>pt_regs</c> is complete: the <c>call do_syscall_64</c> of the 64-bit entry and
    /// the instruction after it, and each 32-bit gate's dispatcher call and the instruction after it.
    /// Named calls are selected by number inside the hypervisor (<see cref="TrapPlan.SyscallNumbers"/>
    /// for 64-bit calls, <see cref="TrapPlan.CompatSyscallNumbers"/> for 32-bit ones), at entry and at
    /// exit, so no handler is trapped and nothing is armed per call.
    /// </remarks>
    /// <exception cref="ProfileException">The kernel lacks a symbol the callback plan needs (<c>init_top_pgt</c>, <c>cpu_current_top_of_stack</c>).</exception>
    public TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls, TrapStyle style)
    {
        if (style == TrapStyle.Breakpoint)
        {
            return CreatePlan(syscalls);
        }

        var locator = CreateFrameLocator();
        HashSet<long>? numbers = null, ia32Numbers = null;
        if (syscalls is { Count: > 0 })
        {
            numbers = [];
            ia32Numbers = [];
            foreach (var name in syscalls)
            {
                var entry = FindImplemented(_profile.Syscalls, name);
                var ia32 = _points.Ia32Calls.Count > 0 ? FindImplemented(_profile.Ia32Syscalls, name) : null;
                if (entry is null && ia32 is null)
                {
                    var why = _points.Ia32Error is { } error ? $" (32-bit calls are not traced: {error})" : string.Empty;
                    throw new ArgumentException($"'{name}' is not a system call of this guest ({_profile.Banner.Trim()}).{why}", nameof(syscalls));
                }

                if (entry is not null)
                {
                    numbers.Add(entry.Number);
                }

                if (ia32 is not null)
                {
                    ia32Numbers.Add(ia32.Number);
                }
            }
        }

        SetPlanState(null, FrozenDictionary<ulong, SyscallTableEntry>.Empty, FrozenDictionary<ulong, SyscallTableEntry>.Empty, null, numbers?.ToFrozenSet(), ia32Numbers?.ToFrozenSet());

        TrapPoint[] entries = [_points.Call, .. _points.Ia32Calls.Values.Select(c => c.Point)];
        TrapPoint[] exits = [_points.Return, .. _points.Ia32Exits.Select(p => p with { FilterSet = 1 })];
        return new TrapPlan(entries, exits, numbers?.Order().ToArray())
        {
            Style = TrapStyle.Callback,
            Frames = locator,
            CompatSyscallNumbers = ia32Numbers?.Order().ToArray(),
        };
    }

    /// <summary>What Decode needs of the last plan: handler traps and their exit gate (breakpoint plans), requested numbers (callback plans).</summary>
    private void SetPlanState(ExitGate? gate, FrozenDictionary<ulong, SyscallTableEntry> handlers, FrozenDictionary<ulong, SyscallTableEntry> ia32Handlers, string? ia32PlanError, FrozenSet<long>? requested, FrozenSet<long>? requestedIa32)
    {
        lock (_gate)
        {
            _exitGate = gate;
            _handlers = handlers;
            _ia32Handlers = ia32Handlers;
            _ia32PlanError = ia32PlanError;
            _requested = requested;
            _requestedIa32 = requestedIa32;
        }
    }

    /// <summary>Where a trapped thread's pt_regs, task and page tables are, from the guest's own symbols and BTF.</summary>
    private SavedFrameLocator CreateFrameLocator()
    {
        if (!_profile.TryGetSymbol(LinuxKernelProfile.InitTopPgtName, out var initTopPgt))
        {
            throw new ProfileException("The guest kernel has no init_top_pgt symbol, so its page tables cannot be walked without CR3; trace it with the gdbstub listener.");
        }

        if (_profile.TopOfStackPerCpuOffset is not { } topOfStack)
        {
            throw new ProfileException("The guest kernel has neither cpu_current_top_of_stack nor pcpu_hot.top_of_stack, so its saved user registers cannot be found without registers; trace it with the gdbstub listener.");
        }

        // The direct map's base moves with KASLR (CONFIG_RANDOMIZE_MEMORY); without the variable it is the fixed default.
        var directMap = 0xffff_8880_0000_0000UL;
        if (_profile.TryGetSymbol(LinuxKernelProfile.PageOffsetBaseName, out var pageOffsetBase))
        {
            Span<byte> value = stackalloc byte[8];
            _memory.Read(pageOffsetBase - _profile.ImageDelta, value);
            directMap = BinaryPrimitives.ReadUInt64LittleEndian(value);
        }

        var offsets = _profile.Offsets;
        return new SavedFrameLocator(
            kernelPageTableRoot: initTopPgt - _profile.ImageDelta,
            perVcpuTable: _profile.PerCpuOffset,
            frame: new GuestPointerPath([(long)topOfStack], -PtRegsFrame.Size),
            task: new GuestPointerPath([(long)_profile.CurrentTaskPerCpuOffset]),
            addressSpace: new GuestPointerPath([(long)(offsets.TaskActiveMm ?? offsets.TaskMm), (long)offsets.MmPgd]),
            addressSpaceBias: directMap,
            layout: PtRegsFrame.Layout);
    }

    /// <inheritdoc />
    protected override Syscall? Decode(NitroEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        _cache.Invalidate();
        var kernel = X86AddressSpace.FromRegisters(_memory, in @event.SpecialRegisters, _cache, kpti: true);
        if (@event.Context is { } context)
        {
            lock (_gate)
            {
                return DecodeSavedFrame(@event, context, kernel);
            }
        }

        var rip = @event.Registers.Rip;
        lock (_gate)
        {
            if (rip == _points.Entry.Address)
            {
                return Enter(@event, kernel, (long)@event.Registers.Rax, new ArgumentMap(@event, CallingConvention.LinuxX64, kernel), gated: false);
            }

            if (_points.Ia32Entries.TryGetValue(rip, out var gate))
            {
                return Enter(@event, kernel, (uint)@event.Registers.Rax, Ia32GateArguments(@event, kernel, gate.Gate), gated: false, ia32: true);
            }

            var x64Handler = _handlers.GetValueOrDefault(rip);
            var ia32Handler = _ia32Handlers.GetValueOrDefault(rip);
            if (ia32Handler is not null && (x64Handler is null || InCompatSyscall(@event.Vcpu, kernel)))
            {
                return Enter(@event, kernel, ia32Handler.Number, HandlerArguments(@event, kernel, ia32: true), gated: true, ia32: true);
            }

            if (x64Handler is not null)
            {
                return Enter(@event, kernel, x64Handler.Number, HandlerArguments(@event, kernel, ia32: false), gated: true);
            }

            if (rip == _points.Return.Address)
            {
                return Exit(@event, kernel, ia32: false);
            }

            if (_points.IsIa32Exit(rip))
            {
                return Exit(@event, kernel, ia32: true);
            }
        }

        return null;
    }

    /// <summary>
    /// A trap of a callback listener: the event's registers already are the thread's pt_regs (RAX the
    /// number on entry, the return value on exit) and its handle writes that frame.
    /// </summary>
    private Syscall? DecodeSavedFrame(NitroEvent @event, TrapContext context, X86AddressSpace kernel)
    {
        if (context.FrameAddress == 0)
        {
            // The listener could not read the frame: the registers are not the caller's. Reported as undecodable, not dropped.
            throw new GuestMemoryException(0, GuestMemoryFault.NotPresent, 0, $"The saved user frame of this trap on vCPU {@event.Vcpu} at 0x{context.Address:x} could not be read.");
        }

        var address = context.Address;
        if (address == _points.Call.Address)
        {
            var number = (long)@event.Registers.Rax;
            return _requested is { } wanted && !wanted.Contains(number)
                ? null
                : Enter(@event, kernel, number, new ArgumentMap(@event, CallingConvention.LinuxX64, kernel), gated: false, task: context.TaskAddress);
        }

        if (_points.Ia32Calls.TryGetValue(address, out var gate))
        {
            var number = (long)(uint)@event.Registers.Rax;
            return _requestedIa32 is { } wanted && !wanted.Contains(number)
                ? null
                : Enter(@event, kernel, number, Ia32GateArguments(@event, kernel, gate.Gate), gated: false, ia32: true, task: context.TaskAddress);
        }

        var ia32Exit = _points.IsIa32Exit(address);
        if (address != _points.Return.Address && !ia32Exit)
        {
            return null;
        }

        var origAx = ReadOrigAx(kernel, context.FrameAddress);
        var requested = ia32Exit ? _requestedIa32 : _requested;
        if (requested is not null && !requested.Contains(ia32Exit ? (uint)origAx : (long)origAx))
        {
            return null;
        }

        return Exit(@event, kernel, ia32Exit, origAx, context.TaskAddress);
    }

    private ulong ReadOrigAx(X86AddressSpace kernel, ulong frame)
    {
        try
        {
            return kernel.ReadUInt64(frame + (ulong)PtRegsFrame.Layout.ExitNumberOffset);
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return ulong.MaxValue;
        }
    }

    private static SyscallTableEntry? FindImplemented(IReadOnlyList<SyscallTableEntry> table, string name) =>
        table.FirstOrDefault(s => s.IsImplemented && string.Equals(s.Name, name, StringComparison.Ordinal));

    /// <summary>
    /// The arguments at a 32-bit gate's first instruction. The vDSO's fast paths move two of them:
    /// <c>sysenter</c> leaves the sixth on the user stack at EBP, 32-bit <c>syscall</c> passes the second
    /// in EBP (ECX holds the return address) and the sixth at ESP — the kernel's own fix-up, done here.
    /// </summary>
    private ArgumentMap Ia32GateArguments(NitroEvent @event, X86AddressSpace kernel, Ia32Gate gate)
    {
        if (gate == Ia32Gate.Int80)
        {
            return new ArgumentMap(@event, CallingConvention.LinuxIa32, kernel);
        }

        var user = @event.Registers;
        var stack = gate == Ia32Gate.Sysenter ? (uint)user.Rbp : (uint)user.Rsp;
        if (gate == Ia32Gate.Syscall)
        {
            user.Rcx = (uint)user.Rbp;
        }

        try
        {
            user.Rbp = kernel.ReadUInt32(stack);
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
        }

        return new ArgumentMap(new NitroEvent(@event.Vcpu, @event.Direction, @event.Mechanism, in user, in @event.SpecialRegisters, @event.Timestamp), CallingConvention.LinuxIa32, kernel);
    }

    /// <summary>Whether the current task is in a 32-bit call (<c>TS_COMPAT</c>): tells the callers of a handler both tables share apart.</summary>
    private bool InCompatSyscall(int vcpu, X86AddressSpace kernel)
    {
        if (_profile.Offsets.TaskThreadInfoStatus is not { } status || ReadCurrentTask(vcpu, kernel) is not { } process)
        {
            return false;
        }

        try
        {
            return (kernel.ReadUInt32(process.TaskAddress + status) & TsCompat) != 0;
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return false;
        }
    }

    private Syscall Enter(NitroEvent @event, X86AddressSpace kernel, long number, ArgumentMap arguments, bool gated, bool ia32 = false, ulong task = 0)
    {
        var process = ReadCurrentTask(@event.Vcpu, kernel, task);
        var (name, fullName) = Names(number, ia32);
        var mechanism = ia32 ? SyscallMechanism.Sysenter : SyscallMechanism.Syscall;
        if (@event.Mechanism != mechanism)
        {
            // A handler both tables share is trapped once; the task's TS_COMPAT told which caller this is.
            @event = new NitroEvent(@event.Vcpu, @event.Direction, mechanism, in @event.Registers, in @event.SpecialRegisters, @event.Timestamp, @event.Handle) { Context = @event.Context };
        }

        var decoded = LinuxSyscallDecoder.Default.DecodeEntry(name, arguments, kernel);
        var call = new Syscall(@event, number, name, fullName, process, arguments, process?.Pid, decoded) { ReadLate = ReadLate(@event, arguments.Convention, name, process, decoded) };

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

    private Syscall? Exit(NitroEvent @event, X86AddressSpace kernel, bool ia32)
    {
        // Right after the dispatcher returns, RSP points to the caller's saved registers.
        var user = ReadPtRegs(@event, kernel, @event.Registers.Rsp, SyscallDirection.Exit, out var origAx);
        return Exit(user, kernel, ia32, origAx, task: 0);
    }

    /// <summary>An exit whose event holds the caller's saved registers (RAX: the return value).</summary>
    private Syscall? Exit(NitroEvent user, X86AddressSpace kernel, bool ia32, ulong origAx, ulong task)
    {
        var process = ReadCurrentTask(user.Vcpu, kernel, task);
        var returnValue = (long)user.Registers.Rax;
        var arguments = new ArgumentMap(user, ia32 ? CallingConvention.LinuxIa32 : CallingConvention.LinuxX64, kernel);
        if (process is not null && _pending.Remove(process.Pid, out var entry))
        {
            if (_handlers.ContainsKey(entry.Event.Registers.Rip) || _ia32Handlers.ContainsKey(entry.Event.Registers.Rip))
            {
                _exitGate?.Exit();
            }

            var decoded = LinuxSyscallDecoder.Default.DecodeExit(entry.Name, returnValue, entry.Arguments, kernel);
            return new Syscall(user, entry.Number, entry.Name, entry.FullName, process, arguments, process.Pid, decoded) { ReadLate = ReadLate(user, entry.Arguments.Convention, entry.Name, process, decoded) }.WithEntry(entry);
        }

        // With handler traps, exits of calls nobody asked for pass here while the gate is open.
        if (_exitGate is not null)
        {
            return null;
        }

        // A call that began before the listener attached: its number is still in pt_regs.orig_ax.
        var number = ia32 ? (uint)origAx : (long)origAx;
        var (name, fullName) = Names(number, ia32);
        var exitDecoded = LinuxSyscallDecoder.Default.DecodeExit(name, returnValue, arguments, kernel);
        return new Syscall(user, number, name, fullName, process, arguments, process?.Pid, exitDecoded) { ReadLate = ReadLate(user, arguments.Convention, name, process, exitDecoded) };
    }

    /// <summary>What a streaming listener's call read from guest memory after the vCPU went on: the process and the values from memory.</summary>
    private static IReadOnlyList<string> ReadLate(NitroEvent @event, CallingConvention convention, string name, Process? process, IReadOnlyDictionary<string, object?> decoded)
    {
        if (@event.Context is not { Deferred: true })
        {
            return [];
        }

        var fromMemory = LinuxSyscallDecoder.ValuesFromMemory(name, convention, @event.Direction, decoded);
        return process is null ? fromMemory : ["process", .. fromMemory];
    }

    /// <summary>The short and the handler's name of a call number, from the guest's sys_call_table (or its ia32 table).</summary>
    private (string Name, string FullName) Names(long number, bool ia32)
    {
        var table = ia32 ? _profile.Ia32Syscalls : _profile.Syscalls;
        return number >= 0 && number < table.Count
            ? (table[(int)number].Name, table[(int)number].HandlerName)
            : ("unknown", "unknown");
    }

    /// <summary>At a handler's first instruction RDI points to the caller's saved registers (pt_regs).</summary>
    private static ArgumentMap HandlerArguments(NitroEvent @event, X86AddressSpace kernel, bool ia32) =>
        new(ReadPtRegs(@event, kernel, @event.Registers.Rdi, SyscallDirection.Enter, out _), ia32 ? CallingConvention.LinuxIa32 : CallingConvention.LinuxX64, kernel);

    /// <summary>
    /// An event whose registers are the user registers saved in a pt_regs frame: RAX is the number
    /// on entry (orig_ax) and the return value on exit (ax). A live trap's event gets a handle on
    /// that frame, so that synchronous observers change what the handler reads or the thread gets back.
    /// </summary>
    private static NitroEvent ReadPtRegs(NitroEvent @event, X86AddressSpace kernel, ulong frame, SyscallDirection direction, out ulong origAx)
    {
        var user = PtRegsFrame.Read(kernel, frame, direction, out origAx);
        var handle = @event.Handle?.ForSavedUserFrame(frame, PtRegsFrame.Access(kernel, frame, direction, @event));
        return new NitroEvent(@event.Vcpu, direction, @event.Mechanism, user, @event.SpecialRegisters, @event.Timestamp, handle);
    }

    /// <param name="vcpu">The vCPU whose per-cpu current_task to read.</param>
    /// <param name="kernel">The kernel's view of memory.</param>
    /// <param name="task">The task a callback listener found at the trap (0: read current_task now).</param>
    private LinuxProcess? ReadCurrentTask(int vcpu, X86AddressSpace kernel, ulong task = 0)
    {
        try
        {
            if (task != 0)
            {
                return ReadTask(kernel, task);
            }

            if (!_perCpuBase.TryGetValue(vcpu, out var perCpu))
            {
                Span<byte> value = stackalloc byte[8];
                _memory.Read(_profile.PerCpuOffset + ((ulong)vcpu * 8) - _profile.ImageDelta, value);
                perCpu = BinaryPrimitives.ReadUInt64LittleEndian(value);
                _perCpuBase[vcpu] = perCpu;
            }

            return ReadTask(kernel, kernel.ReadUInt64(perCpu + _profile.CurrentTaskPerCpuOffset));
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
            if (exe != 0)
            {
                var dentry = kernel.ReadUInt64(exe + offsets.FilePath + offsets.PathDentry);
                var key = (exe, dentry, kernel.ReadUInt64(dentry + offsets.DentryName + offsets.QstrName));
                if (!_exePaths.TryGetValue(key, out path))
                {
                    path = ReadPath(kernel, dentry);
                    if (_exePaths.Count > 4096)
                    {
                        _exePaths.Clear();
                    }

                    _exePaths[key] = path;
                }
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
