namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// The thread a vCPU runs, as found through its processor block: the KTHREAD, its process
/// (<c>ApcState.Process</c>) and that process's page-table root, the thread and process ids
/// (<c>Cid</c>), and the saved user frame of the current system call (<c>KTHREAD.TrapFrame</c>).
/// What a listener that cannot read registers needs to find the caller and its registers.
/// </summary>
/// <param name="Thread">The KTHREAD (= ETHREAD) address.</param>
/// <param name="Process">The EPROCESS address.</param>
/// <param name="DirectoryTableBase">The process's page-table root.</param>
/// <param name="ThreadId">Cid.UniqueThread.</param>
/// <param name="ProcessId">Cid.UniqueProcess.</param>
/// <param name="TrapFrame">The KTRAP_FRAME address, or 0 when the profile has no KTHREAD.TrapFrame.</param>
public sealed record WindowsCurrentThread(ulong Thread, ulong Process, ulong DirectoryTableBase, long ThreadId, long ProcessId, ulong TrapFrame);
