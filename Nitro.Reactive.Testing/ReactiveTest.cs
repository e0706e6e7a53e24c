using System.Reactive;
using Nitro.Reactive.Testing.Internal;

namespace Nitro.Reactive.Testing;

/// <summary>
/// Shorthands for expected messages and subscriptions, meant for <c>using static</c>:
/// <c>OnNext(210, 1)</c>, <c>OnCompleted&lt;int&gt;(250)</c>, <c>Subscribe(200, 1000)</c>.
/// </summary>
public static class ReactiveTest
{
    /// <summary>The default virtual time at which <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/> creates the observable.</summary>
    public const long Created = 100;

    /// <summary>The default virtual time at which <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/> subscribes.</summary>
    public const long Subscribed = 200;

    /// <summary>The default virtual time at which <see cref="TestScheduler.Start{T}(Func{IObservable{T}})"/> disposes the subscription.</summary>
    public const long Disposed = 1000;

    /// <summary>Creates an <c>OnNext</c> record.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="time">The virtual time in ticks.</param>
    /// <param name="value">The value.</param>
    /// <returns>The record.</returns>
    public static Recorded<Notification<T>> OnNext<T>(long time, T value) => new(time, Notification.CreateOnNext(value));

    /// <summary>
    /// Creates an expected <c>OnNext</c> record that matches any <c>OnNext</c> at <paramref name="time"/>
    /// whose value satisfies <paramref name="predicate"/>. Use it only as an expected value.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="time">The virtual time in ticks.</param>
    /// <param name="predicate">The condition the value must meet.</param>
    /// <returns>The record.</returns>
    public static Recorded<Notification<T>> OnNext<T>(long time, Func<T, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new(time, new OnNextPredicateNotification<T>(predicate));
    }

    /// <summary>Creates an <c>OnCompleted</c> record.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="time">The virtual time in ticks.</param>
    /// <returns>The record.</returns>
    public static Recorded<Notification<T>> OnCompleted<T>(long time) => new(time, Notification.CreateOnCompleted<T>());

    /// <summary>
    /// Creates an <c>OnError</c> record. As in Rx, it equals a recorded error only when the exception
    /// is the same instance; use <see cref="OnError{T}(long, Func{Exception, bool})"/> to match by type or message.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="time">The virtual time in ticks.</param>
    /// <param name="exception">The error.</param>
    /// <returns>The record.</returns>
    public static Recorded<Notification<T>> OnError<T>(long time, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new(time, Notification.CreateOnError<T>(exception));
    }

    /// <summary>
    /// Creates an expected <c>OnError</c> record that matches any <c>OnError</c> at <paramref name="time"/>
    /// whose exception satisfies <paramref name="predicate"/>, for example <c>e =&gt; e is TimeoutException</c>.
    /// Use it only as an expected value.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="time">The virtual time in ticks.</param>
    /// <param name="predicate">The condition the exception must meet.</param>
    /// <returns>The record.</returns>
    public static Recorded<Notification<T>> OnError<T>(long time, Func<Exception, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new(time, new OnErrorPredicateNotification<T>(predicate));
    }

    /// <summary>Creates a subscription record.</summary>
    /// <param name="subscribe">The subscription time.</param>
    /// <param name="unsubscribe">The unsubscription time.</param>
    /// <returns>The subscription.</returns>
    public static Subscription Subscribe(long subscribe, long unsubscribe) => new(subscribe, unsubscribe);

    /// <summary>Creates the record of a subscription that was never disposed.</summary>
    /// <param name="subscribe">The subscription time.</param>
    /// <returns>The subscription.</returns>
    public static Subscription Subscribe(long subscribe) => new(subscribe);
}
