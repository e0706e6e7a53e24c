namespace Nitro.Reactive.Memory;

/// <summary>Bit masks of x86-64 paging used across the SDK.</summary>
public static class PageTableBits
{
    /// <summary>
    /// Masks a CR3 value down to the page-table root: drops the PCID / flags (bits 0–11) and the
    /// no-flush bit (63).
    /// </summary>
    public const ulong Cr3AddressMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>
    /// Like <see cref="Cr3AddressMask"/> but also drops bit 12, which Linux's page-table isolation
    /// (KPTI) sets in the user CR3: the result is the kernel root, which maps user space too. Use it
    /// only for guests known to use KPTI's 8 KiB-aligned root pairs (Linux).
    /// </summary>
    public const ulong Cr3KptiAddressMask = 0x000F_FFFF_FFFF_E000;

    /// <summary>CR4.LA57: 5-level paging.</summary>
    public const ulong Cr4La57 = 1UL << 12;

    /// <summary>EFER.SCE: SYSCALL enabled.</summary>
    public const ulong EferSce = 1UL;
}
