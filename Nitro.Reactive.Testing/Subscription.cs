using System.Globalization;

namespace Nitro.Reactive.Testing;

/// <summary>The virtual times at which an observer subscribed to a test observable and unsubscribed from it.</summary>
public readonly struct Subscription : IEquatable<Subscription>
{
    /// <summary>The unsubscription time of a subscription that was never disposed.</summary>
    public const long Infinite = long.MaxValue;

    /// <summary>Initializes a subscription that was never disposed.</summary>
    /// <param name="subscribe">The subscription time in ticks.</param>
    public Subscription(long subscribe)
        : this(subscribe, Infinite)
    {
    }

    /// <summary>Initializes a subscription.</summary>
    /// <param name="subscribe">The subscription time in ticks.</param>
    /// <param name="unsubscribe">The unsubscription time in ticks, or <see cref="Infinite"/>.</param>
    public Subscription(long subscribe, long unsubscribe)
    {
        Subscribe = subscribe;
        Unsubscribe = unsubscribe;
    }

    /// <summary>Gets the subscription time in ticks.</summary>
    public long Subscribe { get; }

    /// <summary>Gets the unsubscription time in ticks, or <see cref="Infinite"/> while still subscribed.</summary>
    public long Unsubscribe { get; }

    /// <summary>Compares two subscriptions.</summary>
    /// <param name="left">The first subscription.</param>
    /// <param name="right">The second subscription.</param>
    /// <returns><see langword="true"/> when both times are equal.</returns>
    public static bool operator ==(Subscription left, Subscription right) => left.Equals(right);

    /// <summary>Compares two subscriptions.</summary>
    /// <param name="left">The first subscription.</param>
    /// <param name="right">The second subscription.</param>
    /// <returns><see langword="true"/> when a time differs.</returns>
    public static bool operator !=(Subscription left, Subscription right) => !left.Equals(right);

    /// <inheritdoc />
    public bool Equals(Subscription other) => Subscribe == other.Subscribe && Unsubscribe == other.Unsubscribe;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Subscription other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Subscribe, Unsubscribe);

    /// <inheritdoc />
    public override string ToString() =>
        Unsubscribe == Infinite
            ? string.Create(CultureInfo.InvariantCulture, $"({Subscribe}, Infinite)")
            : string.Create(CultureInfo.InvariantCulture, $"({Subscribe}, {Unsubscribe})");
}
