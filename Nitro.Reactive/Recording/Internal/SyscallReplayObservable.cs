using System.Collections.Frozen;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// The calls of <c>TraceReplay.Syscalls</c>, as a type that <c>WhereSyscall</c> recognises (as Rx
/// fuses <c>Where</c> after <c>Where</c>): a name filter applied straight to a fast replay moves
/// into the reader, which then builds no event, call or Rx notification for the calls it drops.
/// Every record is still read and checked, so the calls, their order, the errors of a damaged
/// file and disposal are those of the unfused <c>Where</c>.
/// </summary>
internal sealed class SyscallReplayObservable : IObservable<Syscall>
{
    private readonly Func<TraceReader> _open;
    private readonly ReplayOptions? _options;
    private readonly FrozenSet<string>? _names;
    private readonly IObservable<Syscall> _replay;

    /// <param name="open">Opens the trace, once per subscription.</param>
    /// <param name="options">Pacing, already checked.</param>
    /// <param name="names">The names of the calls to deliver; all when <see langword="null"/>.</param>
    public SyscallReplayObservable(Func<TraceReader> open, ReplayOptions? options, FrozenSet<string>? names)
    {
        _open = open;
        _options = options;
        _names = names;
        _replay = TraceReplay.Replay(open, options, static () => new SyscallReplayVisitor(), names);
    }

    public IDisposable Subscribe(IObserver<Syscall> observer) => _replay.Subscribe(observer);

    /// <summary>
    /// This replay with only the calls named in <paramref name="names"/> (ordinal), or
    /// <see langword="null"/> where fusing would change what subscribers see: a paced replay
    /// starts its clock at the first call of the trace, whatever a filter keeps.
    /// </summary>
    public IObservable<Syscall>? TryWhereNames(FrozenSet<string> names)
    {
        if (_options?.Scheduler is not null)
        {
            return null;
        }

        // Where(a).Where(b) keeps the calls that both keep.
        var combined = _names is null ? names : _names.Where(names.Contains).ToFrozenSet(StringComparer.Ordinal);
        return new SyscallReplayObservable(_open, _options, combined);
    }
}
