using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Globalization;
using System.Reflection.PortableExecutable;
using System.Text;
using Nitro.Backends.Windows.Decoding;
using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// The x64 Windows back end (7 SP1 to 11 24H2): turns traps at <c>KiSystemCall64</c>(<c>Shadow</c>),
/// at the <c>swapgs</c> before <c>sysretq</c>, or at the handlers of requested calls into
/// <see cref="Syscall"/> values with the calling process (EPROCESS through the processor block),
/// the call's name (service table and symbol table, else the caller's own ntdll.dll / win32u.dll
/// stubs), typed arguments and, on exit, the NTSTATUS. Pairs exits with entries by thread id.
/// Also plans where a breakpoint listener must trap (<see cref="ITrapPlanner"/>).
/// </summary>
public sealed class WindowsBackend : SyscallBackend, ITrapPlanner
{
    private const ulong KernelHalf = 0xFFFF_8000_0000_0000;
    private const int MaxPending = 1 << 16;
    private const int MaxProcesses = 1 << 16;
    private const int MaxCachedProcesses = 4096;
    private const int MaxServices = 0x1000;
    private const int MaxImageNameBytes = 15;
    private const int MaxPathBytes = 0x2000;
    private const ulong MaxModuleSearch = 32UL << 20;
    private const ulong FileTimeUnixEpoch = 116_444_736_000_000_000;

    private readonly IGuestMemory _memory;
    private readonly WindowsKernelProfile _profile;
    private readonly WindowsKernelImage _image;
    private readonly X86AddressSpace _kernel;
    private readonly TranslationCache _cache = new();
    private readonly WindowsTrapPoints _points;
    private readonly SavedFrameLayout _frameLayout;
    private readonly FrozenSet<ulong> _entryAddresses;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, Syscall> _pending = [];
    private readonly Dictionary<long, ServiceName> _serviceNames = [];
    private readonly Dictionary<ulong, WindowsProcess> _processes = [];
    private readonly List<StubModule> _stubModules = [];
    private FrozenDictionary<ulong, (long Number, ServiceName Name)> _handlers = FrozenDictionary<ulong, (long, ServiceName)>.Empty;
    private FrozenSet<long>? _requested;
    private ExitGate? _exitGate;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="memory">The guest's physical memory.</param>
    /// <param name="profile">The kernel's profile (a symbol table, or built-in offsets).</param>
    /// <param name="kernel">Where the kernel image is and the page-table root to read kernel memory through.</param>
    /// <param name="hookFailurePolicy">What to do when a hook throws.</param>
    /// <exception cref="WindowsProfileException">The profile's KTRAP_FRAME offsets do not fit a saved frame.</exception>
    public WindowsBackend(IGuestMemory memory, WindowsKernelProfile profile, WindowsKernelImage kernel, HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
        : base(hookFailurePolicy)
    {
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _profile = profile ?? throw new ArgumentNullException(nameof(profile));
        _image = kernel ?? throw new ArgumentNullException(nameof(kernel));
        _kernel = new X86AddressSpace(memory, kernel.DirectoryTableBase, cache: _cache);
        _points = new WindowsTrapPoints(_kernel, profile, kernel.ImageBase);
        _frameLayout = KtrapFrame.Layout(profile.Offsets.TrapFrame);
        _entryAddresses = _points.Entries.Select(p => p.Address).ToFrozenSet();
    }

    /// <summary>Gets the kernel profile.</summary>
    public WindowsKernelProfile Profile => _profile;

    /// <summary>Gets the kernel image the back end reads.</summary>
    public WindowsKernelImage Kernel => _image;

    /// <summary>Gets why a breakpoint listener cannot trap every call or every exit (no symbols, unexpected code), or <see langword="null"/>.</summary>
    public string? TrapError => _points.Error;

    /// <summary>
    /// Locates the kernel in guest memory and picks its profile (a symbol table from
    /// <paramref name="symbolsDirectory"/> by PDB identity, else built-in offsets by build).
    /// </summary>
    /// <param name="memory">The guest's physical memory.</param>
    /// <param name="specialRegisters">Special registers taken while the guest kernel's page tables were live.</param>
    /// <param name="symbolsDirectory">A Volatility 3 symbols directory, or <see langword="null"/>.</param>
    /// <param name="hookFailurePolicy">What to do when a hook throws.</param>
    /// <returns>The back end.</returns>
    /// <exception cref="WindowsProfileException">No kernel image was found, or no profile fits it; the message names the file needed.</exception>
    public static WindowsBackend Create(IGuestMemory memory, in SpecialRegisters specialRegisters, string? symbolsDirectory, HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
    {
        var image = WindowsKernelImage.Locate(memory, in specialRegisters);
        var identity = image.Identity ?? throw new WindowsProfileException(string.Create(
            CultureInfo.InvariantCulture, $"The kernel image at 0x{image.ImageBase:x} has no CodeView record, so its symbol table cannot be named."));
        return new WindowsBackend(memory, WindowsKernelProfile.Resolve(identity, image.BuildNumber, symbolsDirectory), image, hookFailurePolicy);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Every plan traps the common entry (its numbers let an in-hypervisor filter skip the rest).
    /// A named call whose handler begins with an instruction the listener can emulate is trapped
    /// at that handler instead; the others are filtered here at the entry. Exits are armed while a
    /// requested call is in flight.
    /// </remarks>
    /// <exception cref="ArgumentException">A name is not a system call of this kernel's service table.</exception>
    /// <exception cref="WindowsProfileException">The profile has no symbols, so there is nothing to trap.</exception>
    public TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls)
    {
        if (_points.Entries.Count == 0)
        {
            throw new WindowsProfileException($"No system call entry to trap: {_points.Error}.");
        }

        TrapPoint[] exits = [.. _points.Exits];
        if (syscalls is null || syscalls.Count == 0)
        {
            lock (_gate)
            {
                _requested = null;
                _exitGate = null;
                _handlers = FrozenDictionary<ulong, (long, ServiceName)>.Empty;
            }

            return new TrapPlan([.. _points.Entries], exits);
        }

        var numbers = new HashSet<long>();
        var handlers = new Dictionary<ulong, (long, ServiceName)>();
        var handlerPoints = new List<TrapPoint>();
        var viaEntry = false;
        foreach (var name in syscalls)
        {
            var (number, service) = FindService(name) ?? throw new ArgumentException($"'{name}' is not in the service table of {_profile.Name}.", nameof(syscalls));
            numbers.Add(number);
            if (service.Handler != 0 && _points.Handler(service.Handler, service.Name) is { } point)
            {
                handlers[service.Handler] = (number, service);
                handlerPoints.Add(point);
            }
            else
            {
                viaEntry = true;
            }
        }

        var gate = new ExitGate();
        lock (_gate)
        {
            _requested = numbers.ToFrozenSet();
            _exitGate = gate;
            _handlers = handlers.ToFrozenDictionary();
        }

        TrapPoint[] entries = viaEntry ? [.. _points.Entries, .. handlerPoints] : [.. handlerPoints];
        return new TrapPlan(entries, exits, [.. numbers.Order()], gate);
    }

    /// <inheritdoc />
    /// <remarks>
    /// For <see cref="TrapStyle.Callback"/> listeners (the QEMU plugin), which read no registers, the
    /// plan traps the handlers of the named calls (the guest then executes their first instruction),
    /// where the kernel has saved the caller's registers in the thread's <c>KTRAP_FRAME</c>; its
    /// <see cref="TrapPlan.Frames"/> lead from <c>KiProcessorBlock[vcpu]</c> through
    /// <c>CurrentThread</c> to <c>TrapFrame</c>, and through <c>ApcState.Process</c> to
    /// <c>DirectoryTableBase</c>. The points select the calls, so the plan has no number filter.
    /// Such a plan has no exit points: on the way out the NTSTATUS is only in RAX, which the
    /// listener cannot read.
    /// </remarks>
    /// <exception cref="NotSupportedException">A callback plan for every call (one point per handler is too many), or a profile without the symbols and offsets it needs.</exception>
    public TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls, TrapStyle style)
    {
        if (style == TrapStyle.Breakpoint)
        {
            return CreatePlan(syscalls);
        }

        if (syscalls is null || syscalls.Count == 0)
        {
            throw new NotSupportedException("A Windows callback plan traps the handlers of named calls only: give the calls to trace, or use a breakpoint listener (gdbstub) for every call.");
        }

        var locator = CreateFrameLocator();
        var handlers = new Dictionary<ulong, (long, ServiceName)>();
        var points = new List<TrapPoint>();
        foreach (var name in syscalls)
        {
            var (number, service) = FindService(name) ?? throw new ArgumentException($"'{name}' is not in the service table of {_profile.Name}.", nameof(syscalls));
            if (service.Handler == 0)
            {
                throw new ArgumentException($"'{name}' has no handler address in the service table of {_profile.Name}.", nameof(syscalls));
            }

            if (handlers.TryAdd(service.Handler, (number, service)))
            {
                points.Add(new TrapPoint(service.Handler, TrapRole.Handler, TrapEmulation.Execute, 0, service.Name));
            }
        }

        lock (_gate)
        {
            _requested = null;
            _exitGate = null;
            _handlers = handlers.ToFrozenDictionary();
        }

        return new TrapPlan(points, []) { Style = TrapStyle.Callback, Frames = locator };
    }

    /// <summary>
    /// Where a callback listener finds the caller's saved registers, thread and page tables:
    /// KiProcessorBlock[vcpu] (a KPRCB) → CurrentThread → TrapFrame; → ApcState.Process → DirectoryTableBase.
    /// </summary>
    /// <returns>The locator.</returns>
    /// <exception cref="NotSupportedException">The profile has no <c>KiProcessorBlock</c> or no <c>KTHREAD.TrapFrame</c>.</exception>
    public SavedFrameLocator CreateFrameLocator()
    {
        var o = _profile.Offsets;
        if (!_profile.TryGetSymbol("KiProcessorBlock", out var block) || o.KthreadTrapFrame is not { } trapFrame)
        {
            throw new NotSupportedException($"{_profile.Name} has no KiProcessorBlock or KTHREAD.TrapFrame: the saved registers cannot be found without the build's symbol table; use a breakpoint listener.");
        }

        return new SavedFrameLocator(
            kernelPageTableRoot: _image.DirectoryTableBase,
            perVcpuTable: _image.ImageBase + block,
            frame: new GuestPointerPath([o.KprcbCurrentThread, trapFrame]),
            task: new GuestPointerPath([o.KprcbCurrentThread]),
            addressSpace: new GuestPointerPath([o.KthreadApcStateProcess, o.KprocessDirectoryTableBase]),
            addressSpaceBias: 0,
            layout: _frameLayout);
    }

    /// <summary>
    /// Finds the thread a vCPU runs: through GS when <paramref name="gsBase"/> is the kernel's
    /// (gs:[0x188], the KPCR's <c>Prcb.CurrentThread</c>), else through
    /// <c>KiProcessorBlock[vcpu]</c> (for listeners that give no GS base, or at the entry before
    /// <c>swapgs</c>, where GS is still the user's TEB).
    /// </summary>
    /// <param name="vcpu">The vCPU index (the Windows processor number).</param>
    /// <param name="gsBase">The GS base at the trap, or 0 when the listener cannot read it.</param>
    /// <returns>The thread, or <see langword="null"/> when the processor block or thread is unreadable.</returns>
    public WindowsCurrentThread? FindCurrentThread(int vcpu, ulong gsBase = 0)
    {
        var o = _profile.Offsets;
        try
        {
            ulong prcb;
            if (gsBase >= KernelHalf)
            {
                prcb = gsBase + (ulong)o.KpcrPrcb;
            }
            else if (_profile.TryGetSymbol("KiProcessorBlock", out var block) && vcpu is >= 0 and < 4096)
            {
                prcb = _kernel.ReadUInt64(_image.ImageBase + block + ((ulong)vcpu * 8));
            }
            else
            {
                return null;
            }

            var thread = _kernel.ReadUInt64(prcb + (ulong)o.KprcbCurrentThread);
            var process = _kernel.ReadUInt64(thread + (ulong)o.KthreadApcStateProcess);
            var dtb = _kernel.ReadUInt64(process + (ulong)o.KprocessDirectoryTableBase);
            var pid = (long)_kernel.ReadUInt64(thread + (ulong)o.EthreadCid);
            var tid = (long)_kernel.ReadUInt64(thread + (ulong)o.EthreadCid + 8);
            var frame = o.KthreadTrapFrame is { } f ? _kernel.ReadUInt64(thread + (ulong)f) : 0;
            return new WindowsCurrentThread(thread, process, dtb, tid, pid, frame);
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return null;
        }
    }

    /// <summary>Reads the user registers saved in a <c>KTRAP_FRAME</c> (RAX, RCX, RDX, R8–R11, RBP, RIP, RFLAGS, RSP).</summary>
    /// <param name="frame">The frame's address (<see cref="WindowsCurrentThread.TrapFrame"/>).</param>
    /// <returns>The registers; the others are zero.</returns>
    /// <exception cref="GuestMemoryException">The frame is not readable.</exception>
    public Registers ReadTrapFrame(ulong frame) => SavedUserFrame.Read(_kernel, frame, _frameLayout, SyscallDirection.Enter);

    /// <summary>Reads a process from its EPROCESS.</summary>
    /// <param name="eprocess">The EPROCESS address.</param>
    /// <returns>The process.</returns>
    /// <exception cref="GuestMemoryException">The EPROCESS itself is unreadable (the PEB and path only give markers).</exception>
    public WindowsProcess ReadProcess(ulong eprocess)
    {
        var o = _profile.Offsets;
        var pid = (int)_kernel.ReadUInt64(eprocess + (ulong)o.EprocessUniqueProcessId);
        var parent = (int)_kernel.ReadUInt64(eprocess + (ulong)o.EprocessInheritedFromUniqueProcessId);
        Span<byte> nameBytes = stackalloc byte[MaxImageNameBytes];
        _kernel.Read(eprocess + (ulong)o.EprocessImageFileName, nameBytes);
        var end = nameBytes.IndexOf((byte)0);
        var name = Encoding.Latin1.GetString(end < 0 ? nameBytes : nameBytes[..end]);
        var dtb = _kernel.ReadUInt64(eprocess + (ulong)o.KprocessDirectoryTableBase);
        var wow64 = _kernel.ReadUInt64(eprocess + (ulong)o.EprocessWow64Process) != 0;
        var fileTime = _kernel.ReadUInt64(eprocess + (ulong)o.EprocessCreateTime);
        DateTimeOffset? created = fileTime > FileTimeUnixEpoch && fileTime < (ulong)DateTime.MaxValue.ToFileTimeUtc()
            ? DateTimeOffset.FromFileTime((long)fileTime).ToUniversalTime()
            : null;

        // SeAuditProcessCreationInfo.ImageFileName → OBJECT_NAME_INFORMATION { UNICODE_STRING Name }.
        var kernelReader = new UserReader(_kernel);
        var audit = _kernel.ReadUInt64(eprocess + (ulong)o.EprocessSeAuditProcessCreationInfo);
        object? path = audit == 0 ? null : kernelReader.ReadUnicodeString(audit);

        object? commandLine = null;
        var peb = _kernel.ReadUInt64(eprocess + (ulong)o.EprocessPeb);
        if (peb != 0)
        {
            var user = new UserReader(new X86AddressSpace(_memory, dtb, cache: _cache));
            commandLine = user.TryReadUInt64(peb + (ulong)o.PebProcessParameters, out var parameters, out var marker)
                ? user.ReadUnicodeString(parameters + (ulong)o.ParametersCommandLine)
                : marker;
        }

        return new WindowsProcess(pid, name, parent == 0 ? null : parent, commandLine, path, wow64, created, eprocess, dtb);
    }

    /// <summary>
    /// Lists the processes in <c>PsActiveProcessHead</c>. The walk is bounded and stops at a
    /// loop or an unreadable link, so a corrupt list ends early instead of hanging.
    /// </summary>
    /// <param name="max">The most processes returned.</param>
    /// <returns>The processes readable before the list ended, looped or broke.</returns>
    /// <exception cref="WindowsProfileException">The profile has no <c>PsActiveProcessHead</c>.</exception>
    public IReadOnlyList<WindowsProcess> EnumerateProcesses(int max = 4096)
    {
        if (!_profile.TryGetSymbol("PsActiveProcessHead", out var headRva))
        {
            throw new WindowsProfileException($"{_profile.Name} has no PsActiveProcessHead: the process list needs the build's symbol table.");
        }

        var links = (ulong)_profile.Offsets.EprocessActiveProcessLinks;
        var head = _image.ImageBase + headRva;
        var seen = new HashSet<ulong> { head };
        var list = new List<WindowsProcess>();
        try
        {
            var entry = _kernel.ReadUInt64(head);
            while (list.Count < Math.Min(max, MaxProcesses) && seen.Add(entry))
            {
                list.Add(ReadProcess(entry - links));
                entry = _kernel.ReadUInt64(entry);
            }
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
        }

        return list;
    }

    /// <inheritdoc />
    protected override Syscall? Decode(NitroEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        _cache.Invalidate();
        var rip = @event.TrapAddress;
        lock (_gate)
        {
            if (@event.Context is { } context)
            {
                return _handlers.TryGetValue(rip, out var called) ? EnterFromSavedFrame(@event, context, called.Number, called.Name) : null;
            }

            if (_entryAddresses.Contains(rip))
            {
                var number = (long)(uint)@event.Registers.Rax;
                if (_requested is not null && (!_requested.Contains(number) || IsHandlerTrapped(number)))
                {
                    return null;
                }

                var thread = FindCurrentThread(@event.Vcpu, @event.SpecialRegisters.Gs.Base) ?? FromTeb(@event);
                return Enter(@event, number, thread, null, gated: _requested is not null);
            }

            if (_handlers.TryGetValue(rip, out var handler))
            {
                return EnterAtHandler(@event, handler.Number, handler.Name);
            }

            if (IsExitPoint(rip))
            {
                return Exit(@event);
            }

            // An in-kernel listener (Nitro's ioctls) traps the syscall / sysret instructions themselves:
            // the entry at the user's syscall (user registers, user GS), the exit at sysret.
            if (rip < KernelHalf && @event.Direction == SyscallDirection.Enter)
            {
                var number = (long)(uint)@event.Registers.Rax;
                var thread = FindCurrentThread(@event.Vcpu, @event.SpecialRegisters.Gs.Base) ?? FromTeb(@event);
                return Enter(@event, number, thread, null, gated: false);
            }

            if (@event.Direction == SyscallDirection.Exit && _points.Exits.Count == 0)
            {
                return Exit(@event);
            }
        }

        return null;
    }

    /// <summary>
    /// Without a processor block (a built-in profile has no <c>KiProcessorBlock</c>), at the entry
    /// GS is still the user's TEB: its ClientId names the thread and process, and the process is
    /// found in the process list (from <c>PsActiveProcessHead</c> or the exported <c>PsInitialSystemProcess</c>).
    /// </summary>
    private WindowsCurrentThread? FromTeb(NitroEvent @event)
    {
        var teb = @event.SpecialRegisters.Gs.Base;
        if (teb == 0 || teb >= KernelHalf)
        {
            return null;
        }

        try
        {
            var user = X86AddressSpace.FromRegisters(_memory, in @event.SpecialRegisters, _cache);
            var pid = (long)user.ReadUInt64(teb + 0x40);
            var tid = (long)user.ReadUInt64(teb + 0x48);
            var eprocess = FindProcessById(pid);
            var dtb = eprocess == 0 ? 0 : _kernel.ReadUInt64(eprocess + (ulong)_profile.Offsets.KprocessDirectoryTableBase);
            return new WindowsCurrentThread(0, eprocess, dtb, tid, pid, 0);
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return null;
        }
    }

    private ulong FindProcessById(long pid)
    {
        var o = _profile.Offsets;
        var links = (ulong)o.EprocessActiveProcessLinks;
        ulong head;
        if (_profile.TryGetSymbol("PsActiveProcessHead", out var headRva))
        {
            head = _image.ImageBase + headRva;
        }
        else if (_image.Exports.TryGetValue("PsInitialSystemProcess", out var systemRva))
        {
            head = _kernel.ReadUInt64(_image.ImageBase + systemRva) + links;
        }
        else
        {
            return 0;
        }

        var seen = new HashSet<ulong>();
        var entry = head;
        while (seen.Count < MaxProcesses && seen.Add(entry))
        {
            if (entry != head || !_profile.TryGetSymbol("PsActiveProcessHead", out _))
            {
                var eprocess = entry - links;
                if ((long)_kernel.ReadUInt64(eprocess + (ulong)o.EprocessUniqueProcessId) == pid)
                {
                    return eprocess;
                }
            }

            entry = _kernel.ReadUInt64(entry);
        }

        return 0;
    }

    /// <inheritdoc />
    protected override Syscall CreateUndecodable(NitroEvent @event, GuestMemoryException error)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var number = @event.Direction == SyscallDirection.Enter ? (long)(uint)@event.Registers.Rax : -1;
        return new Syscall(@event, number, "unknown", "unknown", null, new ArgumentMap(@event, CallingConvention.WindowsX64, null));
    }

    private bool IsHandlerTrapped(long number)
    {
        foreach (var pair in _handlers)
        {
            if (pair.Value.Number == number)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A callback listener's trap at a handler: the event's registers already are the KTRAP_FRAME's.
    /// The entry stores argument 0 in <c>KTHREAD.FirstArgument</c> (the frame's R10 slot it never
    /// writes); RDX, R8 and R9 are in the frame only for a thread being debugged.
    /// </summary>
    private Syscall EnterFromSavedFrame(NitroEvent @event, TrapContext context, long number, ServiceName service)
    {
        var thread = FindCurrentThread(@event.Vcpu, @event.SpecialRegisters.Gs.Base);
        var user = @event.Registers;
        user.Rax = (ulong)number;
        if (thread is not null && _profile.Offsets.KthreadFirstArgument is { } first)
        {
            try
            {
                user.R10 = _kernel.ReadUInt64(thread.Thread + (ulong)first);
            }
            catch (GuestMemoryException)
            {
                Statistics.AddMemoryError();
            }
        }
        var handle = @event.Handle?.ForSavedUserFrame(context.FrameAddress, KtrapFrame.AtHandler(_kernel, context.FrameAddress, _frameLayout, @event));
        var framed = new NitroEvent(@event.Vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, in user, in @event.SpecialRegisters, @event.Timestamp, handle) { Context = context };
        return Enter(framed, number, thread, service, gated: false, copied: true);
    }

    private bool IsExitPoint(ulong rip)
    {
        foreach (var exit in _points.Exits)
        {
            if (exit.Address == rip)
            {
                return true;
            }
        }

        return false;
    }

    private Syscall EnterAtHandler(NitroEvent @event, long number, ServiceName service)
    {
        var thread = FindCurrentThread(@event.Vcpu, @event.SpecialRegisters.Gs.Base);
        if (thread is null || thread.TrapFrame == 0)
        {
            return Enter(@event, number, thread, service, gated: true);
        }

        // At a handler the user's RIP, RSP and flags are in the KTRAP_FRAME; the number is the handler's.
        // The register arguments are where the x64 convention puts a function's first four, RCX, RDX,
        // R8 and R9, at its first instruction: the kernel saves them to the frame only for a thread
        // being debugged, so the frame's slots may be stale.
        var user = ReadTrapFrame(thread.TrapFrame);
        user.Rax = (ulong)number;
        user.R10 = @event.Registers.Rcx;
        user.Rdx = @event.Registers.Rdx;
        user.R8 = @event.Registers.R8;
        user.R9 = @event.Registers.R9;
        var handle = @event.Handle?.ForSavedUserFrame(thread.TrapFrame, KtrapFrame.AtHandler(_kernel, thread.TrapFrame, _frameLayout, @event));
        var framed = new NitroEvent(@event.Vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, in user, in @event.SpecialRegisters, @event.Timestamp, handle);
        return Enter(framed, number, thread, service, gated: true, copied: true);
    }

    private Syscall Enter(NitroEvent @event, long number, WindowsCurrentThread? thread, ServiceName? known, bool gated, bool copied = false)
    {
        IVirtualMemory user = X86AddressSpace.FromRegisters(_memory, in @event.SpecialRegisters, _cache);
        if (copied)
        {
            user = new CopiedArgumentsMemory(user);
        }

        // After syscall RCX is the return address into the stub; at the syscall itself (an in-kernel listener) RIP is in the stub.
        var service = known ?? Name(number, @event.Registers.Rip < KernelHalf ? @event.Registers.Rip : @event.Registers.Rcx, user);
        var arguments = new ArgumentMap(@event, CallingConvention.WindowsX64, user);
        var decoded = WindowsSyscallDecoder.Default.DecodeEntry(service.Name, arguments, user, 4 + service.StackArguments, @event.Registers.Rsp);
        var process = thread is null || thread.Process == 0 ? null : Process(thread.Process);
        var call = new Syscall(@event, number, service.Name, service.FullName, process, arguments, thread?.ThreadId, decoded);

        // NtTerminateProcess on the caller itself and NtTerminateThread on itself do not return.
        if (thread is not null)
        {
            if (_pending.Count >= MaxPending)
            {
                _pending.Clear();
                _exitGate?.Reset();
            }

            var replaced = _pending.Remove(thread.ThreadId);
            _pending[thread.ThreadId] = call;
            if (gated && !replaced)
            {
                _exitGate?.Enter();
            }
        }

        return call;
    }

    private Syscall? Exit(NitroEvent @event)
    {
        var thread = FindCurrentThread(@event.Vcpu, @event.SpecialRegisters.Gs.Base) ?? FromTeb(@event);
        var user = X86AddressSpace.FromRegisters(_memory, in @event.SpecialRegisters, _cache);
        var arguments = new ArgumentMap(@event, CallingConvention.WindowsX64, user);
        var returnValue = @event.Registers.Rax;
        var process = thread is null ? null : Process(thread.Process);
        if (thread is not null && _pending.Remove(thread.ThreadId, out var entry))
        {
            if (_requested is not null)
            {
                _exitGate?.Exit();
            }

            var decoded = WindowsSyscallDecoder.Default.DecodeExit(entry.Name, returnValue, entry.Arguments, user, isNtStatus: ((entry.Number >> 12) & 3) == 0);
            return new Syscall(@event, entry.Number, entry.Name, entry.FullName, process ?? entry.Process, arguments, thread.ThreadId, decoded).WithEntry(entry);
        }

        if (_exitGate is not null)
        {
            return null;
        }

        // A call that began before the listener attached: KTHREAD.SystemCallNumber still says which.
        long number = -1;
        var service = ServiceName.Unknown;
        if (thread is not null && _profile.Offsets.KthreadSystemCallNumber is { } slot)
        {
            try
            {
                number = _kernel.ReadUInt32(thread.Thread + (ulong)slot);
                service = Name(number, 0, user);
            }
            catch (GuestMemoryException)
            {
                Statistics.AddMemoryError();
            }
        }

        var exitDecoded = WindowsSyscallDecoder.Default.DecodeExit(service.Name, returnValue, arguments, user, isNtStatus: number < 0 || ((number >> 12) & 3) == 0);
        return new Syscall(@event, number, service.Name, service.FullName, process, arguments, thread?.ThreadId, exitDecoded);
    }

    private WindowsProcess? Process(ulong eprocess)
    {
        if (_processes.TryGetValue(eprocess, out var cached))
        {
            return cached;
        }

        try
        {
            var process = ReadProcess(eprocess);
            if (_processes.Count >= MaxCachedProcesses)
            {
                _processes.Clear();
            }

            // A process whose command line could not be read yet (PEB paged out) is read again next time.
            if (process.CommandLine is not Unreadable)
            {
                _processes[eprocess] = process;
            }

            return process;
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return null;
        }
    }

    /// <summary>
    /// The name of call <paramref name="number"/>: from the service table and the symbol table,
    /// else from the stubs of the module the caller's return address is in (ntdll / win32u).
    /// </summary>
    private ServiceName Name(long number, ulong userReturn, IVirtualMemory user)
    {
        if (_serviceNames.TryGetValue(number, out var known))
        {
            return known;
        }

        var fromTable = ServiceTableName(number);
        if (fromTable is { Name: not "unknown" })
        {
            _serviceNames[number] = fromTable;
            return fromTable;
        }

        if (userReturn != 0 && userReturn < KernelHalf && StubName(number, userReturn, user) is { } stub)
        {
            return fromTable is null ? stub : stub with { StackArguments = fromTable.StackArguments, Handler = fromTable.Handler };
        }

        return fromTable ?? ServiceName.For(number);
    }

    private ServiceName? ServiceTableName(long number)
    {
        var table = (int)((number >> 12) & 3);
        var index = number & 0xFFF;
        if (number is < 0 or > 0x3FFF || table > 1)
        {
            return null;
        }

        var descriptor = table == 0 ? "KeServiceDescriptorTable" : "KeServiceDescriptorTableShadow";
        if (!_profile.TryGetSymbol(descriptor, out var rva))
        {
            return null;
        }

        try
        {
            // KSERVICE_TABLE_DESCRIPTOR (x64, 0x20 bytes): Base, Count, Limit, Number; the shadow's second entry is win32k.
            var at = _image.ImageBase + rva + ((ulong)table * 0x20);
            var serviceBase = _kernel.ReadUInt64(at);
            var limit = _kernel.ReadUInt64(at + 0x10);
            if (serviceBase == 0 || limit == 0 || (ulong)index >= Math.Min(limit, MaxServices))
            {
                return null;
            }

            // x64 entries: the handler's offset from the table in bits 4–31 (signed), stack arguments in bits 0–3.
            var entry = (int)_kernel.ReadUInt32(serviceBase + ((ulong)index * 4));
            var handler = serviceBase + (ulong)(long)(entry >> 4);
            var stackArguments = entry & 0xF;
            if (table == 0 && _profile.TryGetSymbolAt(handler - _image.ImageBase, out var name))
            {
                return new ServiceName(name, "nt!" + name, stackArguments, handler);
            }

            return ServiceName.For(number) with { StackArguments = stackArguments, Handler = handler };
        }
        catch (GuestMemoryException)
        {
            Statistics.AddMemoryError();
            return null;
        }
    }

    private ServiceName? StubName(long number, ulong userReturn, IVirtualMemory user)
    {
        foreach (var module in _stubModules)
        {
            if (userReturn >= module.Base && userReturn < module.End)
            {
                return module.Names.TryGetValue(number, out var hit) ? hit : null;
            }
        }

        var loaded = LoadStubModule(userReturn, user);
        return loaded is not null && loaded.Names.TryGetValue(number, out var found) ? found : null;
    }

    private StubModule? LoadStubModule(ulong inside, IVirtualMemory user)
    {
        Span<byte> mz = stackalloc byte[2];
        var page = inside & ~0xFFFUL;
        for (ulong scanned = 0; scanned < MaxModuleSearch && page > 0; scanned += 0x1000, page -= 0x1000)
        {
            if (user.ReadPartial(page, mz) != 2 || mz[0] != (byte)'M' || mz[1] != (byte)'Z')
            {
                continue;
            }

            try
            {
                using var stream = new GuestImageStream(user, page, (long)Math.Min(inside - page + 0x1000, 64UL << 20));
                using var reader = new PEReader(stream, PEStreamOptions.IsLoadedImage | PEStreamOptions.LeaveOpen);
                var size = (ulong)reader.PEHeaders.PEHeader!.SizeOfImage;
                if (inside >= page + size)
                {
                    return null;
                }

                using var whole = new GuestImageStream(user, page, (long)size);
                var stubs = SyscallStubReader.Read(whole, isLoadedImage: true);
                var names = new Dictionary<long, ServiceName>();
                foreach (var stub in stubs)
                {
                    var module = stub.Table == 1 ? "win32k!" : "nt!";
                    names.TryAdd(stub.Number, new ServiceName(stub.Name, module + stub.Name, 0, 0));
                }

                var loaded = new StubModule(page, page + size, names);
                if (_stubModules.Count < 16)
                {
                    _stubModules.Add(loaded);
                }

                return loaded;
            }
            catch (Exception ex) when (ex is BadImageFormatException or PeFormatException or InvalidOperationException)
            {
                return null;
            }
        }

        return null;
    }

    private (long Number, ServiceName Name)? FindService(string name)
    {
        for (long table = 0; table < 2; table++)
        {
            for (long index = 0; index < MaxServices; index++)
            {
                var number = (table << 12) | index;
                var service = ServiceTableName(number);
                if (service is null)
                {
                    break;
                }

                if (string.Equals(service.Name, name, StringComparison.Ordinal))
                {
                    return (number, service);
                }
            }
        }

        foreach (var module in _stubModules)
        {
            foreach (var (number, service) in module.Names)
            {
                if (string.Equals(service.Name, name, StringComparison.Ordinal))
                {
                    return (number, service);
                }
            }
        }

        return null;
    }

    private sealed record ServiceName(string Name, string FullName, int StackArguments, ulong Handler)
    {
        public static ServiceName Unknown { get; } = new("unknown", "unknown", 0, 0);

        public static ServiceName For(long number) => number < 0
            ? Unknown
            : new("unknown", string.Create(CultureInfo.InvariantCulture, $"{(((number >> 12) & 3) == 1 ? "win32k" : "nt")}!0x{number & 0xFFF:x}"), 0, 0);
    }

    private sealed record StubModule(ulong Base, ulong End, Dictionary<long, ServiceName> Names);
}
