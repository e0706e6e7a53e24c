using System.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>Keeps the calls whose raw argument <paramref name="index"/> satisfies <paramref name="predicate"/>.</summary>
    /// <param name="source">The calls.</param>
    /// <param name="index">The zero-based argument index in the call's convention.</param>
    /// <param name="predicate">The test of the raw value; an exception from it ends the stream.</param>
    /// <returns>The matching calls.</returns>
    public static IObservable<Syscall> WhereArgument(this IObservable<Syscall> source, int index, Func<ulong, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentNullException.ThrowIfNull(predicate);
        return source.Where(s => predicate(s.Arguments.GetRaw(index)));
    }

    /// <summary>Keeps the calls whose decoded argument <paramref name="name"/> satisfies <paramref name="predicate"/>.</summary>
    /// <param name="source">The calls.</param>
    /// <param name="name">The decoded argument's name, e.g. <c>filename</c>.</param>
    /// <param name="predicate">The test of the decoded value; calls without that argument are dropped.</param>
    /// <returns>The matching calls.</returns>
    public static IObservable<Syscall> WhereArgument(this IObservable<Syscall> source, string name, Func<object?, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(predicate);
        return source.Where(s => s.Decoded.TryGetValue(name, out var value) && predicate(value));
    }
}
