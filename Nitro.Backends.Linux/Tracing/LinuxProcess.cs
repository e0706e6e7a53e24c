using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Tracing;

/// <summary>
/// A Linux task as the back end read it from the guest: <see cref="Process.Pid"/> is the task's
/// pid (the thread), <see cref="Tgid"/> the thread group (what <c>ps</c> calls the process id),
/// <see cref="Process.ParentPid"/> the real parent's thread group.
/// </summary>
public sealed class LinuxProcess : Process
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="pid">The task's pid.</param>
    /// <param name="tgid">The thread group id.</param>
    /// <param name="name">The task's <c>comm</c>.</param>
    /// <param name="parentPid">The real parent's thread group id.</param>
    /// <param name="path">The executable's path, when it could be read.</param>
    /// <param name="taskAddress">The guest virtual address of the <c>task_struct</c>.</param>
    public LinuxProcess(int pid, int tgid, string name, int? parentPid, string? path, ulong taskAddress)
        : base(pid, name, parentPid, Describe(tgid, path))
    {
        Tgid = tgid;
        ExecutablePath = path;
        TaskAddress = taskAddress;
    }

    /// <summary>Gets the thread group id.</summary>
    public int Tgid { get; }

    /// <summary>Gets the executable's path, when it could be read (kernel threads have none).</summary>
    public string? ExecutablePath { get; }

    /// <summary>Gets the guest virtual address of the task.</summary>
    public ulong TaskAddress { get; }

    private static Dictionary<string, object?> Describe(int tgid, string? path)
    {
        var properties = new Dictionary<string, object?>(StringComparer.Ordinal) { ["tgid"] = (long)tgid };
        if (path is not null)
        {
            properties["path"] = path;
        }

        return properties;
    }
}
