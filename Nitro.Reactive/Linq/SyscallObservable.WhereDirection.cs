using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Linq;

public static partial class SyscallObservable
{
    /// <summary>Keeps only entries or only exits.</summary>
    /// <param name="source">The calls.</param>
    /// <param name="direction">Which to keep.</param>
    /// <returns>The calls in that direction.</returns>
    public static IObservable<Syscall> WhereDirection(this IObservable<Syscall> source, SyscallDirection direction)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Where(s => s.Direction == direction);
    }

    /// <summary>Keeps only raw events in the given direction.</summary>
    /// <param name="source">The raw events.</param>
    /// <param name="direction">Which to keep.</param>
    /// <returns>The events in that direction.</returns>
    public static IObservable<NitroEvent> WhereDirection(this IObservable<NitroEvent> source, SyscallDirection direction)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Where(e => e.Direction == direction);
    }
}
