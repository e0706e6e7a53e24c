using System.Globalization;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// A Windows process as the back end read it from its EPROCESS: <see cref="Process.Name"/> is
/// <c>ImageFileName</c> (15 characters), <see cref="Process.ParentPid"/> is
/// <c>InheritedFromUniqueProcessId</c>. Its <see cref="Process.Properties"/> are Nitro's
/// Windows fields: <c>parent_pid</c>, <c>command_line</c>, <c>path</c>, <c>iswow64</c>,
/// <c>create_time</c>, and <c>eprocess</c>; a field the guest did not let the back end read is an
/// <see cref="Unreadable"/> marker.
/// </summary>
public sealed class WindowsProcess : Process
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="pid">The process id.</param>
    /// <param name="name">The image file name.</param>
    /// <param name="parentPid">The parent's process id.</param>
    /// <param name="commandLine">The command line from PEB → ProcessParameters, or a marker.</param>
    /// <param name="path">The image's full NT path from SeAuditProcessCreationInfo, or a marker.</param>
    /// <param name="isWow64">Whether it is a 32-bit process on 64-bit Windows.</param>
    /// <param name="createTime">The creation time (UTC), when valid.</param>
    /// <param name="eprocess">The EPROCESS address.</param>
    /// <param name="directoryTableBase">Its page-table root.</param>
    public WindowsProcess(int pid, string name, int? parentPid, object? commandLine, object? path, bool isWow64, DateTimeOffset? createTime, ulong eprocess, ulong directoryTableBase)
        : base(pid, name, parentPid, Describe(parentPid, commandLine, path, isWow64, createTime, eprocess))
    {
        CommandLine = commandLine;
        ImagePath = path;
        IsWow64 = isWow64;
        CreateTime = createTime;
        EprocessAddress = eprocess;
        DirectoryTableBase = directoryTableBase;
    }

    /// <summary>Gets the command line (a <see cref="string"/>, an <see cref="Unreadable"/>, or <see langword="null"/> for processes without a PEB).</summary>
    public object? CommandLine { get; }

    /// <summary>Gets the image's full NT path (<c>\Device\HarddiskVolume2\Windows\notepad.exe</c>), a marker, or <see langword="null"/>.</summary>
    public object? ImagePath { get; }

    /// <summary>Gets a value indicating whether the process runs under WOW64.</summary>
    public bool IsWow64 { get; }

    /// <summary>Gets the creation time, when the FILETIME is valid.</summary>
    public DateTimeOffset? CreateTime { get; }

    /// <summary>Gets the guest virtual address of the EPROCESS.</summary>
    public ulong EprocessAddress { get; }

    /// <summary>Gets the process's page-table root (KPROCESS.DirectoryTableBase).</summary>
    public ulong DirectoryTableBase { get; }

    private static Dictionary<string, object?> Describe(int? parentPid, object? commandLine, object? path, bool isWow64, DateTimeOffset? createTime, ulong eprocess) => new(StringComparer.Ordinal)
    {
        ["parent_pid"] = parentPid is { } p ? (long)p : null,
        ["command_line"] = commandLine,
        ["path"] = path,
        ["iswow64"] = isWow64,
        ["create_time"] = createTime?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        ["eprocess"] = string.Create(CultureInfo.InvariantCulture, $"0x{eprocess:x}"),
    };
}
