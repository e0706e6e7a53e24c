using System.Reactive.Concurrency;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Samples.Rules;

/// <summary>An alert raised by <see cref="ShadowThenSocketRule"/>.</summary>
/// <param name="Process">The process that did both.</param>
/// <param name="ShadowOpen">The call that opened <c>/etc/shadow</c>.</param>
/// <param name="Socket">The first socket call that followed within the window.</param>
public sealed record ShadowThenSocketAlert(Process Process, Syscall ShadowOpen, Syscall Socket);

/// <summary>
/// Detection rule: a process opens <c>/etc/shadow</c> and then, within a time window, creates or
/// connects a socket — the shape of credential theft followed by exfiltration. Written with plain
/// Rx operators over the SDK's syscall stream, so it runs the same on a live guest, a replayed
/// trace, or a marble test (pass the scheduler that drives time).
/// </summary>
public static class ShadowThenSocketRule
{
    private static readonly string[] s_openCalls = ["open", "openat", "openat2"];
    private static readonly string[] s_socketCalls = ["socket", "connect"];

    /// <summary>Applies the rule.</summary>
    /// <param name="syscalls">Entries of system calls (exits are ignored).</param>
    /// <param name="window">How long after the open a socket call still counts (5 s in the sample).</param>
    /// <param name="scheduler">The scheduler that measures the window (virtual time in tests and replays).</param>
    /// <returns>One alert per socket call that follows an open of /etc/shadow by the same process within the window.</returns>
    public static IObservable<ShadowThenSocketAlert> Detect(IObservable<Syscall> syscalls, TimeSpan window, IScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(syscalls);
        ArgumentNullException.ThrowIfNull(scheduler);
        return syscalls
            .Where(s => s.Direction == SyscallDirection.Enter && s.Process is not null)
            .Publish(calls =>
                calls.Where(IsShadowOpen).SelectMany(open =>
                    calls.Where(s => s.Process!.Pid == open.Process!.Pid && s_socketCalls.Contains(s.Name, StringComparer.Ordinal))
                        .Take(1)
                        .TakeUntil(Observable.Timer(window, scheduler))
                        .Select(socket => new ShadowThenSocketAlert(open.Process!, open, socket))))
            .DistinctUntilChanged(alert => alert.Socket);
    }

    private static bool IsShadowOpen(Syscall call) =>
        s_openCalls.Contains(call.Name, StringComparer.Ordinal) &&
        call.Decoded.TryGetValue("pathname", out var name) &&
        name is string path &&
        string.Equals(path, "/etc/shadow", StringComparison.Ordinal);
}
