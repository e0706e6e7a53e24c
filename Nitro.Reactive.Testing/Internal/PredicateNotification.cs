using System.Reactive;

namespace Nitro.Reactive.Testing.Internal;

/// <summary>An expected notification that decides equality itself; <see cref="Recorded{T}"/> defers to it on either side.</summary>
internal interface INotificationMatcher
{
    bool Matches(object? other);
}

/// <summary>The shared shape of the predicate notifications: no value, no observer dispatch.</summary>
internal abstract class PredicateNotification<T> : Notification<T>, INotificationMatcher
{
    public override T Value => throw new InvalidOperationException("An expected notification built from a predicate has no value.");

    public override bool HasValue => false;

    public override Exception? Exception => null;

    public abstract bool Matches(object? other);

    public override bool Equals(Notification<T>? other) => Matches(other);

    public override bool Equals(object? obj) => Matches(obj);

    public override int GetHashCode() => (int)Kind;

    public override void Accept(IObserver<T> observer) => throw NotPlayable();

    public override TResult Accept<TResult>(IObserver<T, TResult> observer) => throw NotPlayable();

    public override void Accept(Action<T> onNext, Action<Exception> onError, Action onCompleted) => throw NotPlayable();

    public override TResult Accept<TResult>(Func<T, TResult> onNext, Func<Exception, TResult> onError, Func<TResult> onCompleted) => throw NotPlayable();

    private static InvalidOperationException NotPlayable() =>
        new("An expected notification built from a predicate can only be compared, not played to an observer.");
}

internal sealed class OnNextPredicateNotification<T>(Func<T, bool> predicate) : PredicateNotification<T>
{
    public override NotificationKind Kind => NotificationKind.OnNext;

    public override bool Matches(object? other) =>
        ReferenceEquals(other, this) ||
        (other is Notification<T> { Kind: NotificationKind.OnNext } notification and not INotificationMatcher && predicate(notification.Value));

    public override string ToString() => "OnNext(<predicate>)";
}

internal sealed class OnErrorPredicateNotification<T>(Func<Exception, bool> predicate) : PredicateNotification<T>
{
    public override NotificationKind Kind => NotificationKind.OnError;

    public override bool Matches(object? other) =>
        ReferenceEquals(other, this) ||
        (other is Notification<T> { Kind: NotificationKind.OnError, Exception: { } exception } and not INotificationMatcher && predicate(exception));

    public override string ToString() => "OnError(<predicate>)";
}
