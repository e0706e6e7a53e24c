using System.Buffers.Binary;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// The user registers that the kernel saved in the thread's <c>KTRAP_FRAME</c> on system call
/// entry, read at the offsets of the profile. At a handler the kernel has already copied the
/// arguments out of the frame, so writes through it are refused rather than silently ignored.
/// </summary>
internal sealed class KtrapFrame : IVcpuAccess
{
    private readonly IVirtualMemory _kernel;
    private readonly ulong _address;
    private readonly KtrapFrameLayout _layout;
    private readonly NitroEvent _trap;

    public KtrapFrame(IVirtualMemory kernel, ulong address, KtrapFrameLayout layout, NitroEvent trap)
    {
        _kernel = kernel;
        _address = address;
        _layout = layout;
        _trap = trap;
    }

    /// <summary>Reads a frame as registers: RAX, RCX, RDX, R8–R11, RBP, RIP, RFLAGS and RSP from their slots; the rest zero.</summary>
    /// <exception cref="GuestMemoryException">The frame is not readable.</exception>
    public static Registers Read(IVirtualMemory kernel, ulong address, KtrapFrameLayout layout)
    {
        if (layout.Size is <= 0 or > 0x1000)
        {
            throw new ArgumentOutOfRangeException(nameof(layout), layout.Size, "A KTRAP_FRAME is at most a page.");
        }

        Span<byte> frame = stackalloc byte[layout.Size];
        kernel.Read(address, frame);
        return new Registers
        {
            Rax = At(frame, layout.Rax),
            Rcx = At(frame, layout.Rcx),
            Rdx = At(frame, layout.Rdx),
            R8 = At(frame, layout.R8),
            R9 = At(frame, layout.R9),
            R10 = At(frame, layout.R10),
            R11 = At(frame, layout.R11),
            Rbp = At(frame, layout.Rbp),
            Rip = At(frame, layout.Rip),
            Rflags = At(frame, layout.EFlags) & 0xFFFF_FFFF,
            Rsp = At(frame, layout.Rsp),
        };
    }

    private static ulong At(ReadOnlySpan<byte> frame, int offset) =>
        offset >= 0 && offset + 8 <= frame.Length ? BinaryPrimitives.ReadUInt64LittleEndian(frame[offset..]) : 0;

    public void GetRegisters(out Registers registers) => registers = Read(_kernel, _address, _layout);

    public void SetRegisters(in Registers registers) => throw new NotSupportedException(
        "At a Windows handler the kernel has already copied the arguments out of the KTRAP_FRAME: change arguments at the system call entry (trace without a handler plan).");

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = _trap.SpecialRegisters;

    public void SetSpecialRegisters(in SpecialRegisters registers) =>
        throw new NotSupportedException("A saved user frame holds general-purpose registers only; special registers belong to the vCPU.");
}
