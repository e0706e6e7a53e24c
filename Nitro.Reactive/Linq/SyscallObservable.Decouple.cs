using System.Reactive.Linq;
using Nitro.Reactive.Linq.Internal;
using Nitro.Reactive.Statistics;

namespace Nitro.Reactive.Linq;

/// <summary>What a decoupling buffer does when it is full.</summary>
public enum OverflowPolicy
{
    /// <summary>Block the producer until there is room: the guest waits for slow observers (back-pressure).</summary>
    Block,

    /// <summary>Discard the incoming item and count it in <see cref="NitroStatistics.Snapshot"/>'s <c>Dropped</c>.</summary>
    DropNewest,

    /// <summary>Discard the oldest queued item and count it.</summary>
    DropOldest,
}

public static partial class SyscallObservable
{
    /// <summary>
    /// Decouples slow observers from the producer (the listener thread, and so the paused guest)
    /// with a bounded queue drained on a dedicated thread. When the queue is full the producer
    /// either blocks (back-pressure) or an item is dropped and counted, as the caller chose; nothing
    /// is lost silently. Behind this operator events are snapshots: the vCPU has resumed.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="source">The stream to decouple.</param>
    /// <param name="capacity">The queue bound (at least 1).</param>
    /// <param name="policy">What to do when the queue is full.</param>
    /// <param name="statistics">Where drops are counted; required for the drop policies.</param>
    /// <returns>The same items, delivered on the queue's thread in order. If a downstream
    /// <c>OnNext</c> throws, the source subscription is disposed (the listener detaches, the guest
    /// runs on) and the exception is passed to that observer's <c>OnError</c> — which Rx's own
    /// auto-detaching observers ignore once their <c>OnNext</c> has thrown; the queue's thread is
    /// never brought down.</returns>
    /// <exception cref="ArgumentNullException">A drop policy was chosen without <paramref name="statistics"/>.</exception>
    public static IObservable<T> Decouple<T>(
        this IObservable<T> source,
        int capacity,
        OverflowPolicy policy = OverflowPolicy.Block,
        NitroStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (policy != OverflowPolicy.Block && statistics is null)
        {
            throw new ArgumentNullException(
                nameof(statistics),
                "A dropping buffer needs a NitroStatistics to count what it drops: nothing may be lost silently.");
        }

        return Observable.Create<T>(observer => new DecoupleSink<T>(source, observer, capacity, policy, statistics));
    }
}
