using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Statistics;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Backends;

/// <summary>What a back end does when a hook throws.</summary>
public enum HookFailurePolicy
{
    /// <summary>Count the failure, publish it on <see cref="SyscallBackend.HookFailures"/> and go on.</summary>
    Report,

    /// <summary>Count the failure and end the stream with the exception (the listener then detaches).</summary>
    Fail,
}

/// <summary>A hook that threw, with the call it was given.</summary>
/// <param name="HookName">The system call name the hook was defined for.</param>
/// <param name="Syscall">The call the hook ran on.</param>
/// <param name="Exception">What it threw.</param>
public sealed record HookFailure(string HookName, Syscall Syscall, Exception Exception);

/// <summary>
/// The base of OS back ends: an operator from raw trap events to decoded system calls, with
/// Nitro-style hooks (<see cref="DefineHook"/>) that run inline while the vCPU is paused, and
/// statistics. Derived classes implement <see cref="Decode"/>.
/// </summary>
public abstract class SyscallBackend
{
    private readonly Lock _hooksGate = new();
    private readonly ISubject<HookFailure> _hookFailures = Subject.Synchronize(new Subject<HookFailure>());
    private volatile Dictionary<HookKey, Action<Syscall>[]> _hooks = [];

    /// <summary>Initializes a new instance.</summary>
    /// <param name="hookFailurePolicy">What to do when a hook throws.</param>
    protected SyscallBackend(HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
    {
        HookFailurePolicy = hookFailurePolicy;
    }

    /// <summary>Gets the counters of this back end (events, syscalls, hooks, memory errors).</summary>
    public NitroStatistics Statistics { get; } = new();

    /// <summary>Gets what happens when a hook throws.</summary>
    public HookFailurePolicy HookFailurePolicy { get; }

    /// <summary>Gets the failures of hooks under <see cref="HookFailurePolicy.Report"/>.</summary>
    public IObservable<HookFailure> HookFailures => _hookFailures.AsObservable();

    /// <summary>
    /// Turns raw trap events into system calls. Decoding and hooks run on the thread that
    /// delivers the event, so with a live listener the vCPU is still paused.
    /// </summary>
    /// <param name="events">Raw events from a listener or a replay.</param>
    /// <returns>The decoded calls; a failing decoder ends the stream with its exception.</returns>
    public IObservable<Syscall> Process(IObservable<NitroEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        return Observable.Create<Syscall>(observer => events.Subscribe(
            e =>
            {
                Syscall? syscall;
                try
                {
                    syscall = DecodeCounted(e);
                }
                catch (Exception ex)
                {
                    observer.OnError(ex);
                    return;
                }

                if (syscall is null)
                {
                    return;
                }

                if (!RunHooks(syscall, out var failure))
                {
                    observer.OnError(failure!);
                    return;
                }

                observer.OnNext(syscall);
            },
            observer.OnError,
            observer.OnCompleted));
    }

    /// <summary>
    /// Runs <paramref name="callback"/> on every call named <paramref name="name"/> in the given
    /// direction, before the call reaches observers and while the vCPU is paused (as Nitro's
    /// <c>define_hook</c>). Several hooks may share a name; they run in definition order.
    /// </summary>
    /// <param name="name">The short system call name (<c>openat</c>, <c>NtOpenFile</c>).</param>
    /// <param name="callback">The hook.</param>
    /// <param name="direction">Entry (default) or exit.</param>
    /// <returns>Disposing it removes this hook.</returns>
    public IDisposable DefineHook(string name, Action<Syscall> callback, SyscallDirection direction = SyscallDirection.Enter)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(callback);
        var key = new HookKey(name, direction);
        lock (_hooksGate)
        {
            var copy = new Dictionary<HookKey, Action<Syscall>[]>(_hooks);
            copy[key] = copy.TryGetValue(key, out var existing) ? [.. existing, callback] : [callback];
            _hooks = copy;
        }

        return new HookRegistration(this, key, callback);
    }

    /// <summary>Removes every hook defined for <paramref name="name"/> in the given direction (Nitro's <c>undefine_hook</c>).</summary>
    /// <param name="name">The system call name.</param>
    /// <param name="direction">Entry (default) or exit.</param>
    /// <returns><see langword="true"/> when a hook was removed.</returns>
    public bool UndefineHook(string name, SyscallDirection direction = SyscallDirection.Enter)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_hooksGate)
        {
            var copy = new Dictionary<HookKey, Action<Syscall>[]>(_hooks);
            var removed = copy.Remove(new HookKey(name, direction));
            _hooks = copy;
            return removed;
        }
    }

    /// <summary>
    /// Decodes one raw event. Returns <see langword="null"/> for an event that is not a system call
    /// this back end reports. Guest memory errors that escape are counted and turned into
    /// <see cref="CreateUndecodable"/>'s result; any other exception ends the stream.
    /// </summary>
    /// <param name="event">The trap.</param>
    /// <returns>The call, or <see langword="null"/>.</returns>
    protected abstract Syscall? Decode(NitroEvent @event);

    /// <summary>
    /// Builds the call reported when <see cref="Decode"/> failed on guest memory, so that no event
    /// is lost. The default names it <c>unknown</c>, with the number from RAX on entry.
    /// </summary>
    /// <param name="event">The trap.</param>
    /// <param name="error">The guest memory error.</param>
    /// <returns>A call without process or decoded values.</returns>
    protected virtual Syscall CreateUndecodable(NitroEvent @event, GuestMemoryException error)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var number = @event.Direction == SyscallDirection.Enter ? (long)@event.Registers.Rax : -1;
        var convention = @event.Mechanism == SyscallMechanism.Syscall ? CallingConvention.LinuxX64 : CallingConvention.LinuxIa32;
        return new Syscall(@event, number, "unknown", "unknown", null, new ArgumentMap(@event, convention, null));
    }

    private Syscall? DecodeCounted(NitroEvent e)
    {
        Statistics.AddEvent();
        Syscall? syscall;
        try
        {
            syscall = Decode(e);
        }
        catch (GuestMemoryException ex)
        {
            Statistics.AddMemoryError();
            syscall = CreateUndecodable(e, ex);
        }

        if (syscall is not null)
        {
            Statistics.AddSyscall();
        }

        return syscall;
    }

    private bool RunHooks(Syscall syscall, out Exception? failure)
    {
        failure = null;
        if (!_hooks.TryGetValue(new HookKey(syscall.Name, syscall.Direction), out var callbacks))
        {
            return true;
        }

        foreach (var callback in callbacks)
        {
            try
            {
                callback(syscall);
                Statistics.AddHookRun(failed: false);
            }
            catch (Exception ex)
            {
                Statistics.AddHookRun(failed: true);
                if (HookFailurePolicy == HookFailurePolicy.Fail)
                {
                    failure = ex;
                    return false;
                }

                _hookFailures.OnNext(new HookFailure(syscall.Name, syscall, ex));
            }
        }

        return true;
    }

    private void RemoveHook(HookKey key, Action<Syscall> callback)
    {
        lock (_hooksGate)
        {
            if (!_hooks.TryGetValue(key, out var existing))
            {
                return;
            }

            var index = Array.IndexOf(existing, callback);
            if (index < 0)
            {
                return;
            }

            var copy = new Dictionary<HookKey, Action<Syscall>[]>(_hooks);
            var remaining = existing.Where((_, i) => i != index).ToArray();
            if (remaining.Length == 0)
            {
                copy.Remove(key);
            }
            else
            {
                copy[key] = remaining;
            }

            _hooks = copy;
        }
    }

    private readonly record struct HookKey(string Name, SyscallDirection Direction);

    private sealed class HookRegistration(SyscallBackend owner, HookKey key, Action<Syscall> callback) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.RemoveHook(key, callback);
            }
        }
    }
}
