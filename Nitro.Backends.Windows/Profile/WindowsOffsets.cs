namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// The structure offsets (in bytes) the Windows back end reads, from a symbol table or a
/// built-in table. Nested fields are flattened: <see cref="KthreadApcStateProcess"/> is
/// <c>KTHREAD.ApcState</c> + <c>KAPC_STATE.Process</c>. Optional fields are <see langword="null"/>
/// where the source does not give them.
/// </summary>
public sealed record WindowsOffsets
{
    /// <summary>Gets <c>KPROCESS.DirectoryTableBase</c>.</summary>
    public required int KprocessDirectoryTableBase { get; init; }

    /// <summary>Gets <c>KPROCESS.UserDirectoryTableBase</c> (kernels with KVA shadowing).</summary>
    public int? KprocessUserDirectoryTableBase { get; init; }

    /// <summary>Gets <c>EPROCESS.CreateTime</c> (a FILETIME).</summary>
    public required int EprocessCreateTime { get; init; }

    /// <summary>Gets <c>EPROCESS.UniqueProcessId</c>.</summary>
    public required int EprocessUniqueProcessId { get; init; }

    /// <summary>Gets <c>EPROCESS.ActiveProcessLinks</c>.</summary>
    public required int EprocessActiveProcessLinks { get; init; }

    /// <summary>Gets <c>EPROCESS.InheritedFromUniqueProcessId</c> (the parent's pid).</summary>
    public required int EprocessInheritedFromUniqueProcessId { get; init; }

    /// <summary>Gets <c>EPROCESS.ImageFileName</c> (15 characters and a NUL).</summary>
    public required int EprocessImageFileName { get; init; }

    /// <summary>Gets <c>EPROCESS.Wow64Process</c> / <c>WoW64Process</c> (non-null for 32-bit processes).</summary>
    public required int EprocessWow64Process { get; init; }

    /// <summary>Gets <c>EPROCESS.Peb</c>.</summary>
    public required int EprocessPeb { get; init; }

    /// <summary>Gets <c>EPROCESS.SeAuditProcessCreationInfo</c> (a pointer to the image's full NT path).</summary>
    public required int EprocessSeAuditProcessCreationInfo { get; init; }

    /// <summary>Gets <c>KTHREAD.ApcState.Process</c>: the thread's current process.</summary>
    public required int KthreadApcStateProcess { get; init; }

    /// <summary>Gets <c>KTHREAD.Teb</c>.</summary>
    public required int KthreadTeb { get; init; }

    /// <summary>Gets <c>KTHREAD.TrapFrame</c>: the saved user registers of the current call.</summary>
    public int? KthreadTrapFrame { get; init; }

    /// <summary>Gets <c>KTHREAD.SystemCallNumber</c>.</summary>
    public int? KthreadSystemCallNumber { get; init; }

    /// <summary>Gets <c>KTHREAD.FirstArgument</c>, where the system-call entry stores argument 0 (R10) of the current call.</summary>
    public int? KthreadFirstArgument { get; init; }

    /// <summary>Gets <c>KTHREAD.PreviousMode</c>.</summary>
    public int? KthreadPreviousMode { get; init; }

    /// <summary>Gets <c>ETHREAD.Cid</c> (<c>UniqueProcess</c> is at +0, <c>UniqueThread</c> at +8).</summary>
    public required int EthreadCid { get; init; }

    /// <summary>Gets <c>KPCR.Prcb</c> (0x180 on every x64 build checked).</summary>
    public int KpcrPrcb { get; init; } = 0x180;

    /// <summary>Gets <c>KPRCB.CurrentThread</c> (8 on every x64 build checked; so gs:[0x188] is the current thread).</summary>
    public int KprcbCurrentThread { get; init; } = 8;

    /// <summary>Gets <c>PEB.ProcessParameters</c>.</summary>
    public int PebProcessParameters { get; init; } = 0x20;

    /// <summary>Gets <c>RTL_USER_PROCESS_PARAMETERS.ImagePathName</c>.</summary>
    public int ParametersImagePathName { get; init; } = 0x60;

    /// <summary>Gets <c>RTL_USER_PROCESS_PARAMETERS.CommandLine</c>.</summary>
    public int ParametersCommandLine { get; init; } = 0x70;

    /// <summary>Gets the <c>KTRAP_FRAME</c> layout.</summary>
    public KtrapFrameLayout TrapFrame { get; init; } = KtrapFrameLayout.X64;
}
