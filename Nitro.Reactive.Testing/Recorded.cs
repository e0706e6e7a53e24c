using Nitro.Reactive.Testing.Internal;

namespace Nitro.Reactive.Testing;

/// <summary>A value recorded at a virtual time, such as a notification an observer received.</summary>
/// <typeparam name="T">The recorded value, usually a <see cref="System.Reactive.Notification{T}"/>.</typeparam>
/// <remarks>
/// Two records are equal when their times are equal and their values are equal by
/// <see cref="EqualityComparer{T}.Default"/>. A notification built with a predicate
/// (<see cref="ReactiveTest.OnNext{T}(long, Func{T, bool})"/>) matches every notification that
/// satisfies the predicate, on whichever side of the comparison it stands; records holding
/// such a notification are not suitable as hash keys.
/// </remarks>
public readonly struct Recorded<T> : IEquatable<Recorded<T>>
{
    /// <summary>Initializes a new record.</summary>
    /// <param name="time">The virtual time in ticks.</param>
    /// <param name="value">The recorded value.</param>
    public Recorded(long time, T value)
    {
        Time = time;
        Value = value;
    }

    /// <summary>Gets the virtual time in ticks.</summary>
    public long Time { get; }

    /// <summary>Gets the recorded value.</summary>
    public T Value { get; }

    /// <summary>Compares two records.</summary>
    /// <param name="left">The first record.</param>
    /// <param name="right">The second record.</param>
    /// <returns><see langword="true"/> when both are equal.</returns>
    public static bool operator ==(Recorded<T> left, Recorded<T> right) => left.Equals(right);

    /// <summary>Compares two records.</summary>
    /// <param name="left">The first record.</param>
    /// <param name="right">The second record.</param>
    /// <returns><see langword="true"/> when they differ.</returns>
    public static bool operator !=(Recorded<T> left, Recorded<T> right) => !left.Equals(right);

    /// <inheritdoc />
    public bool Equals(Recorded<T> other)
    {
        if (Time != other.Time)
        {
            return false;
        }

        if (other.Value is INotificationMatcher otherMatcher)
        {
            return otherMatcher.Matches(Value);
        }

        if (Value is INotificationMatcher matcher)
        {
            return matcher.Matches(other.Value);
        }

        return EqualityComparer<T>.Default.Equals(Value, other.Value);
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Recorded<T> other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Time, Value);

    /// <inheritdoc />
    public override string ToString() => $"{Value}@{Time}";
}
