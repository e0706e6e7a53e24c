namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// Where <c>_KTRAP_FRAME</c> keeps the user registers that the kernel saved on entry (offsets in
/// bytes). The frame of the current system call is at <see cref="WindowsOffsets.KthreadTrapFrame"/>.
/// </summary>
/// <param name="Rax">RAX (the call number on entry).</param>
/// <param name="Rcx">RCX (the user return address after <c>syscall</c>).</param>
/// <param name="Rdx">RDX (argument 1).</param>
/// <param name="R8">R8 (argument 2).</param>
/// <param name="R9">R9 (argument 3).</param>
/// <param name="R10">R10 (argument 0).</param>
/// <param name="R11">R11 (the user RFLAGS after <c>syscall</c>).</param>
/// <param name="Rbp">RBP.</param>
/// <param name="Rip">The user RIP.</param>
/// <param name="EFlags">The user RFLAGS.</param>
/// <param name="Rsp">The user RSP (stack arguments are at RSP + 0x28).</param>
/// <param name="Size">The size of the frame.</param>
public sealed record KtrapFrameLayout(int Rax, int Rcx, int Rdx, int R8, int R9, int R10, int R11, int Rbp, int Rip, int EFlags, int Rsp, int Size)
{
    /// <summary>Gets the layout every x64 build checked has (7601.24540 and 19041.3570 symbol tables agree).</summary>
    public static KtrapFrameLayout X64 { get; } = new(0x30, 0x38, 0x40, 0x48, 0x50, 0x58, 0x60, 0x158, 0x168, 0x178, 0x180, 0x190);
}
