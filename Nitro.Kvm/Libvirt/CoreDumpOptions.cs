namespace Nitro.Kvm.Libvirt;

/// <summary>Flags of <c>virDomainCoreDump</c> (<c>virDomainCoreDumpFlags</c>).</summary>
[Flags]
public enum CoreDumpOptions
{
    /// <summary>Default: the domain is paused during the dump and resumed afterwards.</summary>
    None = 0,

    /// <summary>Crash the domain after the dump (VIR_DUMP_CRASH).</summary>
    Crash = 1,

    /// <summary>Dump without pausing the domain (VIR_DUMP_LIVE).</summary>
    Live = 2,

    /// <summary>Avoid the file system cache (VIR_DUMP_BYPASS_CACHE).</summary>
    BypassCache = 4,

    /// <summary>Reset the domain after the dump (VIR_DUMP_RESET).</summary>
    Reset = 8,

    /// <summary>Dump guest memory only, as an ELF core (VIR_DUMP_MEMORY_ONLY); what QEMU uses for memory analysis. Not supported by the test driver.</summary>
    MemoryOnly = 16,
}
