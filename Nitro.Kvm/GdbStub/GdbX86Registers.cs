namespace Nitro.Kvm.GdbStub;

/// <summary>
/// Register numbers of QEMU's x86-64 gdbstub (the order of its target description and of the
/// <c>g</c> packet). Note that rbp comes before rsp, unlike <c>struct kvm_regs</c>.
/// </summary>
public static class GdbX86Registers
{
    /// <summary>RAX.</summary>
    public const int Rax = 0;

    /// <summary>RBX.</summary>
    public const int Rbx = 1;

    /// <summary>RCX.</summary>
    public const int Rcx = 2;

    /// <summary>RDX.</summary>
    public const int Rdx = 3;

    /// <summary>RSI.</summary>
    public const int Rsi = 4;

    /// <summary>RDI.</summary>
    public const int Rdi = 5;

    /// <summary>RBP (number 6: before RSP).</summary>
    public const int Rbp = 6;

    /// <summary>RSP (number 7: after RBP).</summary>
    public const int Rsp = 7;

    /// <summary>R8; R9…R15 follow as 9…15.</summary>
    public const int R8 = 8;

    /// <summary>R15.</summary>
    public const int R15 = 15;

    /// <summary>RIP.</summary>
    public const int Rip = 16;

    /// <summary>EFLAGS (32-bit).</summary>
    public const int Eflags = 17;

    /// <summary>CS selector (32-bit).</summary>
    public const int Cs = 18;

    /// <summary>SS selector (32-bit).</summary>
    public const int Ss = 19;

    /// <summary>DS selector (32-bit).</summary>
    public const int Ds = 20;

    /// <summary>ES selector (32-bit).</summary>
    public const int Es = 21;

    /// <summary>FS selector (32-bit).</summary>
    public const int Fs = 22;

    /// <summary>GS selector (32-bit).</summary>
    public const int Gs = 23;

    /// <summary>FS base.</summary>
    public const int FsBase = 24;

    /// <summary>GS base (the per-cpu area while in the kernel after <c>swapgs</c>).</summary>
    public const int GsBase = 25;

    /// <summary>Kernel GS base (the MSR <c>swapgs</c> exchanges with GS base).</summary>
    public const int KernelGsBase = 26;

    /// <summary>CR0.</summary>
    public const int Cr0 = 27;

    /// <summary>CR2.</summary>
    public const int Cr2 = 28;

    /// <summary>CR3.</summary>
    public const int Cr3 = 29;

    /// <summary>CR4.</summary>
    public const int Cr4 = 30;

    /// <summary>CR8.</summary>
    public const int Cr8 = 31;

    /// <summary>EFER.</summary>
    public const int Efer = 32;
}
