using System.Reactive.Linq;
using Nitro.Reactive.Linq.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>
    /// Pairs every exit with the entry of the same call and emits completed calls: the exit,
    /// linked to its entry (<see cref="Syscall.Entry"/>), with its return value and duration.
    /// Calls are paired by thread identity (<see cref="Syscall.ThreadId"/>), so a thread that is
    /// preempted between entry and exit, or that migrates to another vCPU, is still paired
    /// correctly. Without a thread identity the operator falls back to the process and vCPU.
    /// </summary>
    /// <param name="source">Entries and exits, in trap order.</param>
    /// <param name="unreturned">
    /// Receives entries that never returned (a later entry of the same thread came first, as after
    /// <c>exit_group</c>, or the stream ended); <see langword="null"/> to ignore them.
    /// </param>
    /// <returns>
    /// Completed calls. An exit whose entry was not seen (tracing began mid-call) is emitted
    /// unlinked, with <see cref="Syscall.Entry"/> <see langword="null"/>.
    /// </returns>
    public static IObservable<Syscall> PairWithExit(this IObservable<Syscall> source, Action<Syscall>? unreturned = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Observable.Create<Syscall>(observer =>
        {
            var pairer = new ExitPairer(unreturned);
            return source.Subscribe(
                syscall =>
                {
                    Syscall? completed;
                    try
                    {
                        completed = pairer.Accept(syscall);
                    }
                    catch (Exception ex)
                    {
                        observer.OnError(ex);
                        return;
                    }

                    if (completed is not null)
                    {
                        observer.OnNext(completed);
                    }
                },
                observer.OnError,
                () =>
                {
                    try
                    {
                        pairer.FlushUnreturned();
                    }
                    catch (Exception ex)
                    {
                        observer.OnError(ex);
                        return;
                    }

                    observer.OnCompleted();
                });
        });
    }
}
