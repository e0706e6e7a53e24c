using Iced.Intel;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// Finds the instructions to trap in the guest kernel's own code: the <c>swapgs</c> at the 64-bit
/// entry, the one before <c>sysretq</c>, the one on the <c>iret</c> return to user mode, and the
/// first instruction of each requested handler — decoded with Iced so that only instructions the
/// listener can emulate safely are trapped.
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
        Entry = FindSwapgs(profile.EntrySyscall64, "entry_SYSCALL_64", TrapRole.SyscallEntry, firstOnly: true);
        SysretExit = FindSwapgs(profile.EntrySysretqUnsafeStack, "entry_SYSRETQ_unsafe_stack", TrapRole.SyscallExit, firstOnly: true);
        UserReturn = FindSwapgs(profile.SwapgsRestoreRegsAndReturnToUsermode, "swapgs_restore_regs_and_return_to_usermode", TrapRole.UserReturn, firstOnly: false);
    }

    public TrapPoint Entry { get; }

    public TrapPoint SysretExit { get; }

    public TrapPoint UserReturn { get; }

    /// <summary>The handler point of a call, stepping over its first instruction when it has no effect.</summary>
    public TrapPoint Handler(SyscallTableEntry entry)
    {
        var instruction = Decode(entry.Handler, out _).First();
        var harmless = instruction.Mnemonic is Mnemonic.Nop or Mnemonic.Endbr64 or Mnemonic.Fnop;
        if (!harmless)
        {
            throw new ProfileException(
                $"Cannot trap {entry.HandlerName} at 0x{entry.Handler:x}: its first instruction '{instruction}' cannot be stepped over safely. Trace all calls instead.");
        }

        return new TrapPoint(entry.Handler, TrapRole.Handler, TrapEmulation.Skip, instruction.Length, entry.Name);
    }

    private TrapPoint FindSwapgs(ulong start, string symbol, TrapRole role, bool firstOnly)
    {
        var index = 0;
        foreach (var instruction in Decode(start, out _))
        {
            if (instruction.Mnemonic == Mnemonic.Swapgs)
            {
                return new TrapPoint(instruction.IP, role, TrapEmulation.SwapGs, instruction.Length);
            }

            // The entry may begin with endbr64 before its swapgs; nothing else is allowed there.
            if (firstOnly && (index > 0 || instruction.Mnemonic != Mnemonic.Endbr64))
            {
                break;
            }

            index++;
        }

        throw new ProfileException($"No swapgs found where expected in {symbol} (0x{start:x}); this kernel's entry code is not supported.");
    }

    private List<Instruction> Decode(ulong address, out int bytes)
    {
        var code = new byte[MaxScan];
        var physical = address - _profile.ImageDelta;
        _memory.Read(physical, code);
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code), address);
        var list = new List<Instruction>();
        bytes = 0;
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
