namespace Nitro.Backends.Linux.Profile;

/// <summary>Byte offsets of the kernel structure members the Linux back end reads, taken from the guest's BTF.</summary>
public sealed record KernelTypeOffsets
{
    /// <summary>Gets the size of <c>struct task_struct</c>.</summary>
    public required ulong TaskStructSize { get; init; }

    /// <summary>Gets <c>task_struct.pid</c>.</summary>
    public required ulong TaskPid { get; init; }

    /// <summary>Gets <c>task_struct.tgid</c>.</summary>
    public required ulong TaskTgid { get; init; }

    /// <summary>Gets <c>task_struct.comm</c>.</summary>
    public required ulong TaskComm { get; init; }

    /// <summary>Gets the length of the <c>task_struct.comm</c> array (TASK_COMM_LEN, 16).</summary>
    public required int TaskCommLength { get; init; }

    /// <summary>Gets <c>task_struct.mm</c>.</summary>
    public required ulong TaskMm { get; init; }

    /// <summary>Gets <c>task_struct.real_parent</c>.</summary>
    public required ulong TaskRealParent { get; init; }

    /// <summary>Gets <c>task_struct.group_leader</c>.</summary>
    public required ulong TaskGroupLeader { get; init; }

    /// <summary>Gets <c>task_struct.tasks</c> (the list of all tasks).</summary>
    public required ulong TaskTasks { get; init; }

    /// <summary>Gets <c>mm_struct.pgd</c>.</summary>
    public required ulong MmPgd { get; init; }

    /// <summary>Gets <c>mm_struct.exe_file</c>.</summary>
    public required ulong MmExeFile { get; init; }

    /// <summary>Gets <c>file.f_path</c>.</summary>
    public required ulong FilePath { get; init; }

    /// <summary>Gets <c>path.dentry</c>.</summary>
    public required ulong PathDentry { get; init; }

    /// <summary>Gets <c>dentry.d_name</c>.</summary>
    public required ulong DentryName { get; init; }

    /// <summary>Gets <c>dentry.d_parent</c>.</summary>
    public required ulong DentryParent { get; init; }

    /// <summary>Gets <c>qstr.name</c>.</summary>
    public required ulong QstrName { get; init; }

    /// <summary>
    /// Gets the offset of <c>thread_info.status</c> in <c>task_struct</c>, whose <c>TS_COMPAT</c> bit the
    /// kernel sets while the task is in a 32-bit system call; <see langword="null"/> when BTF lacks it.
    /// </summary>
    public ulong? TaskThreadInfoStatus { get; init; }

    /// <summary>Gets the offset of <c>task_struct.active_mm</c> (the address space a kernel thread borrows), where BTF has it.</summary>
    public ulong? TaskActiveMm { get; init; }
}
