namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// Offsets for kernels without a symbol table, by build (FACTS §4: Volatility 2 profiles,
/// Volatility 3 tables, ntdiff headers). Only what those sources agree on is filled in; the
/// trap frame, call number and previous mode are given only where a real symbol table
/// (7601.24540, 19041.3570) showed them.
/// </summary>
internal static class BuiltInOffsets
{
    public static readonly BuiltInBuild[] Builds =
    [
        new("7sp1", "Windows 7 SP1 (7601.23418 and later)", [7601], Windows7(cid: 0x3b8)),
        new("7sp1-early", "Windows 7 SP1 (before 7601.23418)", [], Windows7(cid: 0x3b0)),
        new("10-22h2", "Windows 10 2004–22H2 (19041–19045)", [19041, 19042, 19043, 19044, 19045], Windows10()),
        new("11-21h2", "Windows 11 21H2 (22000)", [22000], Windows11(cid: 0x4c8)),
        new("11-23h2", "Windows 11 22H2/23H2 (22621, 22631)", [22621, 22631], Windows11(cid: 0x4c8)),
        new("11-24h2", "Windows 11 24H2 (26100)", [26100], Windows11Of24H2()),
    ];

    private static WindowsOffsets Windows7(int cid) => new()
    {
        KprocessDirectoryTableBase = 0x28,
        KprocessUserDirectoryTableBase = 0x110,
        EprocessCreateTime = 0x168,
        EprocessUniqueProcessId = 0x180,
        EprocessActiveProcessLinks = 0x188,
        EprocessInheritedFromUniqueProcessId = 0x290,
        EprocessImageFileName = 0x2e0,
        EprocessWow64Process = 0x320,
        EprocessPeb = 0x338,
        EprocessSeAuditProcessCreationInfo = 0x390,
        KthreadApcStateProcess = 0x70,
        KthreadTeb = 0xb8,
        KthreadTrapFrame = 0x1d8,
        KthreadSystemCallNumber = 0x1f8,
        KthreadFirstArgument = 0x1e0,
        KthreadPreviousMode = 0x1f6,
        EthreadCid = cid,
    };

    private static WindowsOffsets Windows10() => new()
    {
        KprocessDirectoryTableBase = 0x28,
        KprocessUserDirectoryTableBase = 0x388,
        EprocessCreateTime = 0x468,
        EprocessUniqueProcessId = 0x440,
        EprocessActiveProcessLinks = 0x448,
        EprocessInheritedFromUniqueProcessId = 0x540,
        EprocessImageFileName = 0x5a8,
        EprocessWow64Process = 0x580,
        EprocessPeb = 0x550,
        EprocessSeAuditProcessCreationInfo = 0x5c0,
        KthreadApcStateProcess = 0xb8,
        KthreadTeb = 0xf0,
        KthreadTrapFrame = 0x90,
        KthreadSystemCallNumber = 0x80,
        KthreadFirstArgument = 0x88,
        KthreadPreviousMode = 0x232,
        EthreadCid = 0x478,
    };

    private static WindowsOffsets Windows11(int cid) => new()
    {
        KprocessDirectoryTableBase = 0x28,
        EprocessCreateTime = 0x468,
        EprocessUniqueProcessId = 0x440,
        EprocessActiveProcessLinks = 0x448,
        EprocessInheritedFromUniqueProcessId = 0x540,
        EprocessImageFileName = 0x5a8,
        EprocessWow64Process = 0x580,
        EprocessPeb = 0x550,
        EprocessSeAuditProcessCreationInfo = 0x5c0,
        KthreadApcStateProcess = 0xb8,
        KthreadTeb = 0xf0,
        EthreadCid = cid,
    };

    private static WindowsOffsets Windows11Of24H2() => new()
    {
        KprocessDirectoryTableBase = 0x28,
        EprocessCreateTime = 0x1f8,
        EprocessUniqueProcessId = 0x1d0,
        EprocessActiveProcessLinks = 0x1d8,
        EprocessInheritedFromUniqueProcessId = 0x2d0,
        EprocessImageFileName = 0x338,
        EprocessWow64Process = 0x310,
        EprocessPeb = 0x2e0,
        EprocessSeAuditProcessCreationInfo = 0x350,
        KthreadApcStateProcess = 0xb8,
        KthreadTeb = 0xf0,
        EthreadCid = 0x508,
    };
}

/// <summary>One built-in table.</summary>
/// <param name="Key">Its short name (<c>10-22h2</c>).</param>
/// <param name="Description">What it covers.</param>
/// <param name="BuildNumbers">The <c>NtBuildNumber</c> values it is picked for.</param>
/// <param name="Offsets">The offsets.</param>
internal sealed record BuiltInBuild(string Key, string Description, int[] BuildNumbers, WindowsOffsets Offsets);
