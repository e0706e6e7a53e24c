using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// The user registers that <c>entry_SYSCALL_64</c> saved on the thread's kernel stack
/// (<c>struct pt_regs</c>), read and written in guest memory while the vCPU is paused: a handler
/// reads its arguments from there, and the return path restores the user registers from there
/// (<c>ax</c> becomes the RAX the thread sees, i.e. the return value).
/// </summary>
internal sealed class PtRegsFrame : IVcpuAccess
{
    /// <summary>The size of <c>struct pt_regs</c> on x86-64 (21 slots).</summary>
    public const int Size = 21 * 8;

    // struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss.
    private const int Ax = 10, OrigAx = 15;

    // The pt_regs slot of each Registers field, in kvm_regs order
    // (rax rbx rcx rdx rsi rdi rsp rbp r8 … r15 rip rflags); RAX is ax, or orig_ax on entry.
    private static readonly int[] s_slotOfField = [Ax, 5, 11, 12, 13, 14, 19, 4, 9, 8, 7, 6, 3, 2, 1, 0, 16, 18];

    /// <summary>
    /// The frame's layout for listeners that read it themselves (the QEMU plugin): RAX is orig_ax on
    /// entry and ax on exit, and orig_ax still holds the number on exit.
    /// </summary>
    public static readonly SavedFrameLayout Layout = new(
        Size,
        [.. s_slotOfField.Select(slot => slot * 8)],
        entryRaxOffset: OrigAx * 8,
        exitNumberOffset: OrigAx * 8);

    private readonly IVirtualMemory _kernel;
    private readonly ulong _address;
    private readonly SyscallDirection _direction;
    private readonly NitroEvent _trap;

    /// <param name="kernel">The kernel's view of memory at the trap.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="direction">Entry (RAX is the call number, orig_ax) or exit (RAX is the return value, ax).</param>
    /// <param name="trap">The trap, whose special registers are the vCPU's.</param>
    public PtRegsFrame(IVirtualMemory kernel, ulong address, SyscallDirection direction, NitroEvent trap)
    {
        _kernel = kernel;
        _address = address;
        _direction = direction;
        _trap = trap;
    }

    /// <summary>Reads a frame as the user registers it holds.</summary>
    /// <param name="kernel">The kernel's view of memory.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="direction">Entry: RAX is orig_ax (the number); exit: RAX is ax (the return value).</param>
    /// <param name="origAx">Receives orig_ax.</param>
    /// <returns>The registers.</returns>
    /// <exception cref="GuestMemoryException">The frame is not readable.</exception>
    public static Registers Read(IVirtualMemory kernel, ulong address, SyscallDirection direction, out ulong origAx)
    {
        Span<byte> bytes = stackalloc byte[Size];
        kernel.Read(address, bytes);
        var registers = default(Registers);
        var fields = Registers.AsBytes(ref registers);
        for (var field = 0; field < s_slotOfField.Length; field++)
        {
            var slot = field == 0 ? RaxSlot(direction) : s_slotOfField[field];
            BinaryPrimitives.WriteUInt64LittleEndian(fields[(field * 8)..], BinaryPrimitives.ReadUInt64LittleEndian(bytes[(slot * 8)..]));
        }

        origAx = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(OrigAx * 8)..]);
        return registers;
    }

    public void GetRegisters(out Registers registers) => registers = Read(_kernel, _address, _direction, out _);

    /// <summary>Writes the slots whose values differ from the frame's; the rest of guest memory is untouched.</summary>
    public void SetRegisters(in Registers registers)
    {
        var current = Read(_kernel, _address, _direction, out _);
        var old = Registers.AsBytes(ref current);
        var wanted = Registers.AsBytes(ref Unsafe.AsRef(in registers));
        if (_direction == SyscallDirection.Enter && !old[..8].SequenceEqual(wanted[..8]))
        {
            throw new NotSupportedException("The call number (pt_regs->orig_ax) cannot be changed at the handler: the kernel has already dispatched the call.");
        }

        for (var field = 0; field < s_slotOfField.Length; field++)
        {
            var value = wanted.Slice(field * 8, 8);
            if (!value.SequenceEqual(old.Slice(field * 8, 8)))
            {
                _kernel.Write(_address + ((ulong)s_slotOfField[field] * 8), value);
            }
        }
    }

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = _trap.SpecialRegisters;

    public void SetSpecialRegisters(in SpecialRegisters registers) =>
        throw new NotSupportedException("A saved user frame holds general-purpose registers only; special registers belong to the vCPU.");

    private static int RaxSlot(SyscallDirection direction) => direction == SyscallDirection.Exit ? Ax : OrigAx;
}
