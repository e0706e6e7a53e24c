using System.Buffers.Binary;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// The user registers that <c>entry_SYSCALL_64</c> saved on the thread's kernel stack
/// (<c>struct pt_regs</c>): a handler reads its arguments from there, and the return path restores
/// the user registers from there (<c>ax</c> becomes the RAX the thread sees, i.e. the return value).
/// Read and written through <see cref="SavedUserFrame"/> with <see cref="Layout"/>.
/// </summary>
internal static class PtRegsFrame
{
    /// <summary>The size of <c>struct pt_regs</c> on x86-64 (21 slots).</summary>
    public const int Size = 21 * 8;

    // struct pt_regs: r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss.
    private const int Ax = 10, OrigAx = 15;

    // The pt_regs slot of each Registers field, in kvm_regs order
    // (rax rbx rcx rdx rsi rdi rsp rbp r8 … r15 rip rflags); RAX is ax, or orig_ax on entry.
    private static readonly int[] s_slotOfField = [Ax, 5, 11, 12, 13, 14, 19, 4, 9, 8, 7, 6, 3, 2, 1, 0, 16, 18];

    /// <summary>The frame's layout: RAX is orig_ax on entry and ax on exit, and orig_ax still holds the number on exit.</summary>
    public static readonly SavedFrameLayout Layout = new(
        Size,
        [.. s_slotOfField.Select(slot => slot * 8)],
        entryRaxOffset: OrigAx * 8,
        exitNumberOffset: OrigAx * 8);

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
        origAx = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(OrigAx * 8)..]);
        return Layout.Read(bytes, direction);
    }

    /// <summary>Read and write access to the frame at <paramref name="address"/> while the trap's vCPU waits.</summary>
    /// <param name="kernel">The kernel's view of memory at the trap.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="direction">Entry (RAX is the call number, orig_ax) or exit (RAX is the return value, ax).</param>
    /// <param name="trap">The trap, whose special registers are the vCPU's.</param>
    /// <returns>The access.</returns>
    public static SavedUserFrame Access(IVirtualMemory kernel, ulong address, SyscallDirection direction, NitroEvent trap) =>
        new(kernel, address, Layout, direction, in trap.SpecialRegisters);
}
