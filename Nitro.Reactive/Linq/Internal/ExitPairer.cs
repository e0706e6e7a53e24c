using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq.Internal;

/// <summary>The state of one <c>PairWithExit</c> subscription: pending entries by thread.</summary>
internal sealed class ExitPairer(Action<Syscall>? unreturned)
{
    // A hostile guest can invent thread ids; bound what is kept.
    internal const int MaxPending = 1 << 16;

    private readonly Dictionary<ThreadKey, Syscall> _pending = [];

    public Syscall? Accept(Syscall syscall)
    {
        var key = ThreadKey.Of(syscall);
        if (syscall.Direction == SyscallDirection.Enter)
        {
            if (_pending.Remove(key, out var superseded))
            {
                unreturned?.Invoke(superseded);
            }
            else if (_pending.Count >= MaxPending)
            {
                EvictOne();
            }

            _pending[key] = syscall;
            return null;
        }

        return _pending.Remove(key, out var entry) ? syscall.WithEntry(entry) : syscall;
    }

    public void FlushUnreturned()
    {
        if (unreturned is not null)
        {
            foreach (var entry in _pending.Values.OrderBy(s => s.Timestamp))
            {
                unreturned(entry);
            }
        }

        _pending.Clear();
    }

    private void EvictOne()
    {
        var oldest = default(KeyValuePair<ThreadKey, Syscall>);
        var found = false;
        foreach (var pair in _pending)
        {
            if (!found || pair.Value.Timestamp < oldest.Value.Timestamp)
            {
                oldest = pair;
                found = true;
            }
        }

        _pending.Remove(oldest.Key);
        unreturned?.Invoke(oldest.Value);
    }

    private readonly record struct ThreadKey(long Thread, int Pid, int Vcpu)
    {
        public static ThreadKey Of(Syscall syscall) => syscall.ThreadId is { } thread
            ? new ThreadKey(thread, 0, -1)
            : new ThreadKey(long.MinValue, syscall.Process?.Pid ?? -1, syscall.Vcpu);
    }
}
