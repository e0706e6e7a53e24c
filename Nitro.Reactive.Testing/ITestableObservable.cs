using System.Reactive;

namespace Nitro.Reactive.Testing;

/// <summary>An observable made by a <see cref="TestScheduler"/> that plays recorded messages and records its subscriptions.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ITestableObservable<T> : IObservable<T>
{
    /// <summary>Gets the subscriptions made so far, in subscription order; a live one has <see cref="Subscription.Infinite"/> as its end.</summary>
    IReadOnlyList<Subscription> Subscriptions { get; }

    /// <summary>Gets the messages this observable plays (absolute times for hot, relative to each subscription for cold).</summary>
    IReadOnlyList<Recorded<Notification<T>>> Messages { get; }
}

/// <summary>An observer that records every notification with the virtual time it arrived at.</summary>
/// <typeparam name="T">The element type.</typeparam>
public interface ITestableObserver<T> : IObserver<T>
{
    /// <summary>Gets the notifications received so far, in arrival order.</summary>
    IReadOnlyList<Recorded<Notification<T>>> Messages { get; }
}
