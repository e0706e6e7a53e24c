using Iced.Intel;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// Finds the instructions to trap in the guest kernel's own code, decoded with Iced so that only
/// instructions the listener can emulate safely are trapped: the <c>swapgs</c> at the 64-bit entry;
/// the instruction right after <c>call do_syscall_64</c> (a NOP, or <c>test al, al</c> on newer
/// kernels), which every call passes on its way out whether it returns by <c>sysret</c> or
/// <c>iret</c>, and which interrupts never reach;
/// and the first instruction of each requested handler.
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
        Return = FindDispatcherReturn(profile.EntrySyscall64);
    }

    public TrapPoint Entry { get; }

    /// <summary>The instruction after the dispatcher call; RSP points to the caller's pt_regs there.</summary>
    public TrapPoint Return { get; }

    /// <summary>The handler point of a call, stepping over its first instruction when it has no effect.</summary>
    public TrapPoint Handler(SyscallTableEntry entry)
    {
        var instruction = Decode(entry.Handler).First();
        var harmless = instruction.Mnemonic is Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Fnop;
        if (!harmless)
        {
            throw new ProfileException(
                $"Cannot trap {entry.HandlerName} at 0x{entry.Handler:x}: its first instruction '{instruction}' cannot be stepped over safely. Trace all calls instead.");
        }

        return new TrapPoint(entry.Handler, TrapRole.Handler, TrapEmulation.Skip, instruction.Length, entry.Name);
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

    private TrapPoint FindDispatcherReturn(ulong start)
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
            if (next.Mnemonic is Mnemonic.Nop)
            {
                return new TrapPoint(next.IP, TrapRole.SyscallExit, TrapEmulation.Skip, next.Length);
            }

            if (next.Mnemonic == Mnemonic.Test && next.Op0Kind == OpKind.Register && next.Op0Register == Register.AL &&
                next.Op1Kind == OpKind.Register && next.Op1Register == Register.AL)
            {
                return new TrapPoint(next.IP, TrapRole.SyscallExit, TrapEmulation.TestAlAl, next.Length);
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
