using System.Collections.Frozen;
using System.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>Keeps the calls with one of the given short names (ordinal comparison).</summary>
    /// <param name="source">The calls.</param>
    /// <param name="names">The names, e.g. <c>openat</c>, <c>read</c>.</param>
    /// <returns>The calls with those names.</returns>
    /// <exception cref="ArgumentException">No name was given.</exception>
    public static IObservable<Syscall> WhereSyscall(this IObservable<Syscall> source, params string[] names)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0)
        {
            throw new ArgumentException("Give at least one system call name.", nameof(names));
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
