using System.Collections.Frozen;
using System.Reactive.Linq;
using Nitro.Reactive.Recording.Internal;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>Keeps the calls with one of the given short names (ordinal comparison).</summary>
    /// <param name="source">The calls.</param>
    /// <param name="names">The names, e.g. <c>openat</c>, <c>read</c>.</param>
    /// <returns>The calls with those names.</returns>
    /// <exception cref="ArgumentException">No name was given.</exception>
    /// <remarks>
    /// Applied directly to <c>TraceReplay.Syscalls</c> (without pacing), the filter runs inside
    /// the replay's reader, which then builds nothing for the calls it drops; the result is the
    /// same calls in the same order, with the same errors.
    /// </remarks>
    public static IObservable<Syscall> WhereSyscall(this IObservable<Syscall> source, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0)
        {
            throw new ArgumentException("Give at least one system call name.", nameof(names));
        }

        if (source is SyscallReplayObservable replay && replay.TryWhereNames(names.ToFrozenSet(StringComparer.Ordinal)) is { } fused)
        {
            return fused;
        }

        if (names.Length == 1)
        {
            var only = names[0];
            return source.Where(s => string.Equals(s.Name, only, StringComparison.Ordinal));
        }

        var set = names.ToFrozenSet(StringComparer.Ordinal);
        return source.Where(s => set.Contains(s.Name));
    }
}
