using System.Globalization;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// The user registers that the kernel saved in the thread's <c>KTRAP_FRAME</c> on system call
/// entry, as a <see cref="SavedFrameLayout"/> at the profile's offsets, read through the shared
/// <see cref="SavedUserFrame"/>. At a handler the kernel has already taken the arguments out of the
/// frame, so writes through it are refused rather than silently ignored.
/// </summary>
internal static class KtrapFrame
{
    /// <summary>Why the frame is read-only at a handler.</summary>
    public const string ReadOnlyAtHandler =
        "At a Windows handler the kernel has already copied the arguments out of the KTRAP_FRAME: change arguments at the system call entry (trace without a handler plan).";

    /// <summary>
    /// The frame's layout, in <see cref="Registers"/> order: RCX, RDX, RSP, RBP, R8–R11, RIP and RFLAGS
    /// from their slots; RAX is the call number on entry and not in the frame on exit (the NTSTATUS
    /// is only in the register); RBX, RSI, RDI and R12–R15 are not read.
    /// </summary>
    /// <param name="t">The profile's KTRAP_FRAME offsets.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="WindowsProfileException">The offsets do not fit a saved frame (a damaged symbol table).</exception>
    public static SavedFrameLayout Layout(KtrapFrameLayout t)
    {
        int[] offsets = [-1, -1, t.Rcx, t.Rdx, -1, -1, t.Rsp, t.Rbp, t.R8, t.R9, t.R10, t.R11, -1, -1, -1, -1, t.Rip, t.EFlags];
        try
        {
            return new SavedFrameLayout(t.Size, offsets, t.Rax, numberMask: 0xFFFF_FFFF);
        }
        catch (ArgumentException e)
        {
            throw new WindowsProfileException(string.Create(CultureInfo.InvariantCulture, $"The profile's KTRAP_FRAME ({t.Size} bytes, {t}) is not a saved frame the SDK can read: {e.Message} Check the symbol table."), e);
        }
    }

    /// <summary>Read access to the frame at <paramref name="address"/> while the trap's vCPU waits; every write is refused.</summary>
    /// <param name="kernel">The kernel's view of memory.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="layout">Its layout.</param>
    /// <param name="trap">The trap, whose special registers are the vCPU's.</param>
    /// <returns>The access.</returns>
    public static SavedUserFrame AtHandler(IVirtualMemory kernel, ulong address, SavedFrameLayout layout, NitroEvent trap) =>
        new(kernel, address, layout, SyscallDirection.Enter, in trap.SpecialRegisters, ReadOnlyAtHandler);
}
