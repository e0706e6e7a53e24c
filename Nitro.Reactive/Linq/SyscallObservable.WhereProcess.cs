using System.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

/// <summary>LINQ operators over streams of system calls and raw events.</summary>
public static partial class SyscallObservable
{
    /// <summary>Keeps the calls made by processes with the given name (ordinal comparison).</summary>
    /// <param name="source">The calls.</param>
    /// <param name="name">The process name (Linux <c>comm</c>, Windows image name).</param>
    /// <returns>The calls of that process; calls of unknown processes are dropped.</returns>
    public static IObservable<Syscall> WhereProcess(this IObservable<Syscall> source, string name)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(name);
        return source.Where(s => s.Process is { } p && string.Equals(p.Name, name, StringComparison.Ordinal));
    }

    /// <summary>Keeps the calls made by the process with the given pid.</summary>
    /// <param name="source">The calls.</param>
    /// <param name="pid">The process id.</param>
    /// <returns>The calls of that process.</returns>
    public static IObservable<Syscall> WhereProcess(this IObservable<Syscall> source, int pid)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Where(s => s.Process is { } p && p.Pid == pid);
    }

    /// <summary>Keeps the calls whose process satisfies <paramref name="predicate"/>.</summary>
    /// <param name="source">The calls.</param>
    /// <param name="predicate">The test; an exception from it ends the stream with that error.</param>
    /// <returns>The matching calls; calls of unknown processes are dropped.</returns>
    public static IObservable<Syscall> WhereProcess(this IObservable<Syscall> source, Func<Process, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(predicate);
        return source.Where(s => s.Process is { } p && predicate(p));
    }
}
