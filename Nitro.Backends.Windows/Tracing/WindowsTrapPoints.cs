using Iced.Intel;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// Finds the instructions to trap in the guest kernel's own code, decoded with Iced so that only
/// instructions a breakpoint listener can emulate are trapped: the <c>swapgs</c> that begins
/// <c>KiSystemCall64</c> and <c>KiSystemCall64Shadow</c> (whichever MSR_LSTAR points to fires;
/// the user registers are still live there), the <c>swapgs</c> before <c>sysretq</c> on the way
/// out from <c>KiSystemServiceExit</c> and, with KVA shadowing, <c>KiKernelSysretExit</c> (RAX is
/// the NTSTATUS there), and the first instruction of
/// a requested handler when it has no effect (a NOP form) or is a direct jump.
/// </summary>
internal sealed class WindowsTrapPoints
{
    private const int MaxScan = 1024;

    private readonly IVirtualMemory _kernel;

    public WindowsTrapPoints(IVirtualMemory kernel, WindowsKernelProfile profile, ulong kernelBase)
    {
        _kernel = kernel;
        var entries = new List<TrapPoint>();
        var errors = new List<string>();
        foreach (var symbol in new[] { "KiSystemCall64", "KiSystemCall64Shadow" })
        {
            if (!profile.TryGetSymbol(symbol, out var rva))
            {
                continue;
            }

            var code = Decode(kernelBase + rva, 16);
            if (code.Count > 0 && code[0].Mnemonic == Mnemonic.Swapgs)
            {
                entries.Add(new TrapPoint(code[0].IP, TrapRole.SyscallEntry, TrapEmulation.SwapGs, code[0].Length));
            }
            else
            {
                errors.Add($"{symbol} at 0x{kernelBase + rva:x} does not begin with swapgs");
            }
        }

        Entries = entries;
        var exits = new List<TrapPoint>();
        if (FindSysret(profile, kernelBase, "KiSystemServiceExit", errors) is { } exit)
        {
            exits.Add(exit);
        }
        else if (profile.HasSymbols && !profile.TryGetSymbol("KiSystemServiceExit", out _))
        {
            errors.Add("the symbol table has no KiSystemServiceExit");
        }

        // With KVA shadowing (the Meltdown mitigation, in 7 SP1 and 10 builds since 2018) the exit
        // can leave through KiKernelSysretExit instead, with its own swapgs and sysretq.
        if (FindSysret(profile, kernelBase, "KiKernelSysretExit", errors) is { } shadowExit)
        {
            exits.Add(shadowExit);
        }

        Exits = exits;
        Error = entries.Count == 0
            ? (profile.HasSymbols ? string.Join("; ", errors) : $"{profile.Name} has offsets only, no kernel symbols: breakpoints need the build's symbol table") is { Length: > 0 } e ? e : "no system call entry found"
            : errors.Count > 0 ? string.Join("; ", errors) : null;
    }

    /// <summary>The entry points found (one or both of KiSystemCall64 / KiSystemCall64Shadow).</summary>
    public IReadOnlyList<TrapPoint> Entries { get; }

    /// <summary>The <c>swapgs</c> before <c>sysretq</c> of <c>KiSystemServiceExit</c> and of <c>KiKernelSysretExit</c>, those found.</summary>
    public IReadOnlyList<TrapPoint> Exits { get; }

    /// <summary>What could not be found, or <see langword="null"/>.</summary>
    public string? Error { get; }

    /// <summary>A trap point on a handler's first instruction, or <see langword="null"/> when that instruction cannot be emulated.</summary>
    public TrapPoint? Handler(ulong address, string name)
    {
        var code = Decode(address, 16);
        if (code.Count == 0)
        {
            return null;
        }

        var first = code[0];
        return first.Mnemonic switch
        {
            Mnemonic.Nop or Mnemonic.Endbr64 => new TrapPoint(address, TrapRole.Handler, TrapEmulation.Skip, first.Length, name),
            Mnemonic.Jmp when first.Op0Kind == OpKind.NearBranch64 => new TrapPoint(address, TrapRole.Handler, TrapEmulation.Jump, first.Length, name) { JumpTarget = first.NearBranchTarget },
            _ => null,
        };
    }

    /// <summary>The <c>swapgs</c> right before a <c>sysretq</c> in the first bytes of <paramref name="symbol"/>; null (and an error) when it has none, null alone when the table has no such symbol.</summary>
    private TrapPoint? FindSysret(WindowsKernelProfile profile, ulong kernelBase, string symbol, List<string> errors)
    {
        if (!profile.TryGetSymbol(symbol, out var rva))
        {
            return null;
        }

        var code = Decode(kernelBase + rva, MaxScan);
        for (var i = 0; i + 1 < code.Count; i++)
        {
            if (code[i].Mnemonic == Mnemonic.Swapgs && code[i + 1].Mnemonic == Mnemonic.Sysretq)
            {
                return new TrapPoint(code[i].IP, TrapRole.SyscallExit, TrapEmulation.SwapGs, code[i].Length);
            }
        }

        errors.Add($"no swapgs; sysretq within {MaxScan} bytes of {symbol} (0x{kernelBase + rva:x})");
        return null;
    }

    private List<Instruction> Decode(ulong address, int length)
    {
        var bytes = new byte[length];
        int got;
        try
        {
            got = _kernel.ReadPartial(address, bytes);
        }
        catch (GuestMemoryException)
        {
            got = 0;
        }

        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(bytes, 0, got), address);
        var list = new List<Instruction>();
        while (decoder.IP < address + (ulong)got)
        {
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
            {
                break;
            }

            list.Add(instruction);
        }

        return list;
    }
}
