using Iced.Intel;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>How a 32-bit entry point finds the caller's arguments.</summary>
internal enum Ia32Gate
{
    /// <summary><c>int 0x80</c>: the user's registers are live and hold the arguments as the ia32 convention says.</summary>
    Int80,

    /// <summary><c>sysenter</c> (through the vDSO): EBP holds the user stack pointer, where the sixth argument is.</summary>
    Sysenter,

    /// <summary>32-bit <c>syscall</c> (through the vDSO): ECX is the return address, so EBP holds the second argument and the sixth is at the user ESP.</summary>
    Syscall,
}

/// <summary>
/// Finds the instructions to trap in the guest kernel's own code, decoded with Iced so that only
/// instructions the listener can emulate safely are trapped: the <c>swapgs</c> at the 64-bit entry;
/// the instruction right after <c>call do_syscall_64</c> (a NOP, or <c>test al, al</c> on newer
/// kernels), which every call passes on its way out whether it returns by <c>sysret</c> or
/// <c>iret</c>, and which interrupts never reach;
/// and the first instruction of each requested handler.
/// The 32-bit (ia32) entries are found the same way: the first instruction of each gate
/// (<c>int 0x80</c>, <c>sysenter</c>, 32-bit <c>syscall</c>), where the user's registers are still
/// live, and the instruction after the gate's call of its C dispatcher, where RSP points to pt_regs.
/// </summary>
internal sealed class LinuxTrapPoints
{
    private const int MaxScan = 512;

    private readonly IGuestMemory _memory;
    private readonly LinuxKernelProfile _profile;

    public LinuxTrapPoints(IGuestMemory memory, LinuxKernelProfile profile)
    {
        _memory = memory;
        _profile = profile;
        Entry = FindEntrySwapgs(profile.EntrySyscall64);
        (Call, Return) = FindDispatcherCall(profile.EntrySyscall64);
        (Ia32Entries, Ia32Exits, Ia32Calls, Ia32Error) = FindIa32Gates();
    }

    /// <summary>
    /// The <c>call do_syscall_64</c> in the 64-bit entry: pt_regs is complete there (orig_ax holds the
    /// number) and RSP points to it; the entry point of callback plans, which read no registers.
    /// </summary>
    public TrapPoint Call { get; }

    /// <summary>Each 32-bit gate's call of its C dispatcher (pt_regs complete), by address: the entries of callback plans.</summary>
    public IReadOnlyDictionary<ulong, (TrapPoint Point, Ia32Gate Gate)> Ia32Calls { get; }

    /// <summary>The first instruction of each 32-bit gate this kernel has, by address.</summary>
    public IReadOnlyDictionary<ulong, (TrapPoint Point, Ia32Gate Gate)> Ia32Entries { get; }

    /// <summary>The instruction after each 32-bit gate's dispatcher call; RSP points to the caller's pt_regs there.</summary>
    public IReadOnlyList<TrapPoint> Ia32Exits { get; }

    /// <summary>Why some or all 32-bit calls cannot be traced; <see langword="null"/> when every gate was found.</summary>
    public string? Ia32Error { get; }

    /// <summary>Whether <paramref name="address"/> is one of <see cref="Ia32Exits"/>.</summary>
    public bool IsIa32Exit(ulong address)
    {
        foreach (var point in Ia32Exits)
        {
            if (point.Address == address)
            {
                return true;
            }
        }

        return false;
    }

    public TrapPoint Entry { get; }

    /// <summary>The instruction after the dispatcher call; RSP points to the caller's pt_regs there.</summary>
    public TrapPoint Return { get; }

    /// <summary>The handler point of a call, stepping over its first instruction when it has no effect.</summary>
    public TrapPoint Handler(SyscallTableEntry entry, SyscallMechanism mechanism = SyscallMechanism.Syscall)
    {
        var instruction = Decode(entry.Handler).First();
        var harmless = instruction.Mnemonic is Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Fnop;
        if (!harmless)
        {
            throw new ProfileException(
                $"Cannot trap {entry.HandlerName} at 0x{entry.Handler:x}: its first instruction '{instruction}' cannot be stepped over safely. Trace all calls instead.");
        }

        return new TrapPoint(entry.Handler, TrapRole.Handler, TrapEmulation.Skip, instruction.Length, entry.Name, mechanism);
    }

    /// <summary>How the listener steps over <paramref name="instruction"/>, if it can.</summary>
    private static bool TryEmulate(in Instruction instruction, out TrapEmulation emulation)
    {
        emulation = instruction.Mnemonic switch
        {
            Mnemonic.Nop or Mnemonic.Endbr64 => TrapEmulation.Skip,
            Mnemonic.Swapgs => TrapEmulation.SwapGs,
            Mnemonic.Clac => TrapEmulation.Clac,
            Mnemonic.Jmp when instruction.Op0Kind == OpKind.NearBranch64 => TrapEmulation.Jump,
            Mnemonic.Test when IsSelfTest(in instruction, Register.AL) => TrapEmulation.TestAlAl,
            Mnemonic.Test when IsSelfTest(in instruction, Register.EAX) => TrapEmulation.TestEaxEax,
            _ => (TrapEmulation)(-1),
        };
        return Enum.IsDefined(emulation);
    }

    private static bool IsSelfTest(in Instruction instruction, Register register) =>
        instruction.Op0Kind == OpKind.Register && instruction.Op0Register == register &&
        instruction.Op1Kind == OpKind.Register && instruction.Op1Register == register;

    private static TrapPoint Point(in Instruction instruction, TrapRole role, TrapEmulation emulation) =>
        new(instruction.IP, role, emulation, instruction.Length, Mechanism: SyscallMechanism.Sysenter)
        {
            JumpTarget = emulation == TrapEmulation.Jump ? instruction.NearBranchTarget : 0,
        };

    private (IReadOnlyDictionary<ulong, (TrapPoint, Ia32Gate)> Entries, IReadOnlyList<TrapPoint> Exits, IReadOnlyDictionary<ulong, (TrapPoint, Ia32Gate)> Calls, string? Error) FindIa32Gates()
    {
        var entries = new Dictionary<ulong, (TrapPoint, Ia32Gate)>();
        var calls = new Dictionary<ulong, (TrapPoint, Ia32Gate)>();
        var exits = new List<TrapPoint>();
        if (_profile.Ia32Error is { } tableError)
        {
            return (entries, exits, calls, tableError);
        }

        var errors = new List<string>();
        var gates = new[]
        {
            (Ia32Gate.Int80, Ia32EntrySymbols.Int80IdtEntry, Ia32EntrySymbols.Int80Emulation),
            (Ia32Gate.Int80, Ia32EntrySymbols.Int80Entry, Ia32EntrySymbols.Int80Dispatcher),
            (Ia32Gate.Sysenter, Ia32EntrySymbols.SysenterEntry, Ia32EntrySymbols.SysenterDispatcher),
            (Ia32Gate.Syscall, Ia32EntrySymbols.SyscallEntry, Ia32EntrySymbols.SyscallDispatcher),
        };
        foreach (var group in gates.GroupBy(g => g.Item1))
        {
            var tried = false;
            foreach (var (gate, entrySymbol, dispatcherSymbol) in group)
            {
                if (!_profile.TryGetSymbol(entrySymbol, out var start))
                {
                    continue; // a kernel has one of the two int 0x80 gates
                }

                tried = true;
                try
                {
                    var (entry, exit, call) = FindGate(entrySymbol, start, dispatcherSymbol);
                    entries[entry.Address] = (entry, gate);
                    calls[call.Address] = (call, gate);
                    exits.Add(exit);
                }
                catch (ProfileException e)
                {
                    errors.Add(e.Message);
                }

                break;
            }

            if (!tried)
            {
                errors.Add($"The kernel has no {string.Join(" or ", group.Select(g => g.Item2))}; 32-bit calls through {group.Key} cannot be traced.");
            }
        }

        return (entries, exits, calls, errors.Count == 0 ? null : string.Join(" ", errors));
    }

    /// <summary>The gate's first instruction (user registers live) and the instruction after <c>mov rdi, rsp; call dispatcher</c>.</summary>
    private (TrapPoint Entry, TrapPoint Exit, TrapPoint Call) FindGate(string name, ulong start, string dispatcherName)
    {
        if (!_profile.TryGetSymbol(dispatcherName, out var dispatcher))
        {
            throw new ProfileException($"{name} is there but {dispatcherName} is not; 32-bit calls through it cannot be traced.");
        }

        var code = Decode(start);
        if (code.Count == 0 || !TryEmulate(code[0], out var entryEmulation) || entryEmulation is TrapEmulation.Jump or TrapEmulation.TestAlAl or TrapEmulation.TestEaxEax)
        {
            throw new ProfileException($"{name} (0x{start:x}) begins with '{(code.Count > 0 ? code[0] : default)}', which cannot be trapped safely; 32-bit calls through it cannot be traced.");
        }

        for (var i = 1; i + 1 < code.Count; i++)
        {
            if (code[i].Mnemonic != Mnemonic.Call || code[i].NearBranchTarget != dispatcher)
            {
                continue;
            }

            var passesFrame = code[i - 1].Mnemonic == Mnemonic.Mov && code[i - 1].Op0Register == Register.RDI && code[i - 1].Op1Register == Register.RSP;
            if (!passesFrame || !TryEmulate(code[i + 1], out var exitEmulation) || exitEmulation is TrapEmulation.SwapGs or TrapEmulation.Clac)
            {
                throw new ProfileException(
                    $"In {name} the call of {dispatcherName} at 0x{code[i].IP:x} is not 'mov rdi, rsp; call; <a NOP, test or jmp>' but '{code[i - 1]}; call; {code[i + 1]}'; 32-bit calls through it cannot be traced.");
            }

            return (Point(code[0], TrapRole.SyscallEntry, entryEmulation), Point(code[i + 1], TrapRole.SyscallExit, exitEmulation),
                Point(code[i], TrapRole.SyscallEntry, TrapEmulation.Execute) with { FilterSet = 1 });
        }

        throw new ProfileException($"No call of {dispatcherName} (0x{dispatcher:x}) found in {name} (0x{start:x}); 32-bit calls through it cannot be traced.");
    }

    private TrapPoint FindEntrySwapgs(ulong start)
    {
        var code = Decode(start);

        // The entry may begin with endbr64 before its swapgs; nothing else is allowed there.
        var index = code.Count > 0 && code[0].Mnemonic == Mnemonic.Endbr64 ? 1 : 0;
        if (index < code.Count && code[index].Mnemonic == Mnemonic.Swapgs)
        {
            return new TrapPoint(code[index].IP, TrapRole.SyscallEntry, TrapEmulation.SwapGs, code[index].Length);
        }

        throw new ProfileException($"entry_SYSCALL_64 (0x{start:x}) does not begin with swapgs; this kernel's entry code is not supported.");
    }

    private (TrapPoint Call, TrapPoint Return) FindDispatcherCall(ulong start)
    {
        var code = Decode(start);
        for (var i = 0; i + 1 < code.Count; i++)
        {
            if (code[i].Mnemonic != Mnemonic.Call || code[i].NearBranchTarget != _profile.DoSyscall64)
            {
                continue;
            }

            // 6.1 up to 6.1.x: the dispatcher returns nothing and a patched-out alternative (a NOP)
            // follows; later kernels test its boolean result.
            var next = code[i + 1];
            var call = new TrapPoint(code[i].IP, TrapRole.SyscallEntry, TrapEmulation.Execute, code[i].Length);
            if (next.Mnemonic is Mnemonic.Nop)
            {
                return (call, new TrapPoint(next.IP, TrapRole.SyscallExit, TrapEmulation.Skip, next.Length));
            }

            if (next.Mnemonic == Mnemonic.Test && next.Op0Kind == OpKind.Register && next.Op0Register == Register.AL &&
                next.Op1Kind == OpKind.Register && next.Op1Register == Register.AL)
            {
                return (call, new TrapPoint(next.IP, TrapRole.SyscallExit, TrapEmulation.TestAlAl, next.Length));
            }

            throw new ProfileException($"After 'call do_syscall_64' entry_SYSCALL_64 has '{next}' at 0x{next.IP:x}, which cannot be stepped over safely.");
        }

        throw new ProfileException($"No call to do_syscall_64 (0x{_profile.DoSyscall64:x}) found in entry_SYSCALL_64 (0x{start:x}); this kernel's entry code is not supported.");
    }

    private List<Instruction> Decode(ulong address)
    {
        var code = new byte[MaxScan];
        var physical = address - _profile.ImageDelta;
        _memory.Read(physical, code);
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), address);
        var list = new List<Instruction>();
        var bytes = 0;
        while (bytes < code.Length - 15)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
            {
                break;
            }

            list.Add(instruction);
            bytes += instruction.Length;
        }

        return list;
    }
}
