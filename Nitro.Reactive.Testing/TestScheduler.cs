using System.Reactive;
using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using Nitro.Reactive.Testing.Internal;

namespace Nitro.Reactive.Testing;

/// <summary>
/// A virtual-time scheduler for testing Rx queries deterministically. Time is a <see cref="long"/>
/// count of ticks, and one tick is one <see cref="TimeSpan"/> tick, so
/// <c>Observable.Timer(TimeSpan.FromTicks(50), scheduler)</c> fires 50 ticks after it was subscribed.
/// </summary>
/// <remarks>
/// Unlike Microsoft.Reactive.Testing, work scheduled for "now" runs at the current virtual time,
/// not one tick later: <c>Observable.Return(1, scheduler)</c> subscribed at 200 emits at 200. That keeps
/// every emission on a marble frame. Work scheduled at the same time runs in the order it was scheduled.
/// </remarks>
public sealed class TestScheduler : VirtualTimeScheduler<long, long>
{
    private long _frameTicks = 10;

    /// <summary>Gets or sets how many ticks one character of a marble diagram stands for (default 10).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive.</exception>
    public long FrameTicks
    {
        get => _frameTicks;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _frameTicks = value;
        }
    }

    /// <summary>
    /// Creates a hot observable: every message is scheduled at its absolute time now, and goes to
    /// whoever is subscribed at that time.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="messages">The messages with their absolute times.</param>
    /// <returns>The observable, which records its subscriptions.</returns>
    public ITestableObservable<T> CreateHotObservable<T>(params Recorded<Notification<T>>[] messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return new HotObservable<T>(this, messages);
    }

    /// <summary>
    /// Creates a cold observable: each subscription plays all messages, each at the subscription
    /// time plus the message's time.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="messages">The messages with times relative to the subscription.</param>
    /// <returns>The observable, which records its subscriptions.</returns>
    public ITestableObservable<T> CreateColdObservable<T>(params Recorded<Notification<T>>[] messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return new ColdObservable<T>(this, messages);
    }

    /// <summary>Creates an observer that records each notification with the virtual time it arrived at.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <returns>The observer.</returns>
    public ITestableObserver<T> CreateObserver<T>() => new RecordingObserver<T>(this);

    /// <summary>
    /// Creates the observable at <paramref name="created"/>, subscribes to it at <paramref name="subscribed"/>,
    /// disposes the subscription at <paramref name="disposed"/>, runs the scheduler until no work is left, and
    /// returns what the subscription received.
    /// </summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="create">Builds the query under test.</param>
    /// <param name="created">The creation time.</param>
    /// <param name="subscribed">The subscription time.</param>
    /// <param name="disposed">The disposal time.</param>
    /// <returns>The recording observer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The times are not in the order created ≤ subscribed ≤ disposed.</exception>
    /// <exception cref="InvalidOperationException">The clock is already past <paramref name="created"/> (the scheduler ran before); use one scheduler per test.</exception>
    public ITestableObserver<T> Start<T>(Func<IObservable<T>> create, long created, long subscribed, long disposed)
    {
        ArgumentNullException.ThrowIfNull(create);
        if (created > subscribed || subscribed > disposed)
        {
            throw new ArgumentOutOfRangeException(
                nameof(subscribed),
                $"Start needs created ≤ subscribed ≤ disposed; got {created}, {subscribed}, {disposed}.");
        }

        if (Clock > created)
        {
            throw new InvalidOperationException(
                $"The virtual clock is already at {Clock}, past the creation time {created}, so the timings would be wrong. " +
                "Use a new TestScheduler for each Start, or pass later times.");
        }

        var observer = CreateObserver<T>();
        IObservable<T>? source = null;
        var subscription = new SingleAssignmentDisposable();
        ScheduleAbsolute(created, () => source = create());
        ScheduleAbsolute(subscribed, () => subscription.Disposable = source!.Subscribe(observer));
        ScheduleAbsolute(disposed, subscription.Dispose);
        Start();
        return observer;
    }

    /// <summary>Like <see cref="Start{T}(Func{IObservable{T}}, long, long, long)"/> with creation at 100 and subscription at 200.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="create">Builds the query under test.</param>
    /// <param name="disposed">The disposal time.</param>
    /// <returns>The recording observer.</returns>
    public ITestableObserver<T> Start<T>(Func<IObservable<T>> create, long disposed) =>
        Start(create, ReactiveTest.Created, ReactiveTest.Subscribed, disposed);

    /// <summary>Like <see cref="Start{T}(Func{IObservable{T}}, long, long, long)"/> with creation at 100, subscription at 200 and disposal at 1000.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="create">Builds the query under test.</param>
    /// <returns>The recording observer.</returns>
    public ITestableObserver<T> Start<T>(Func<IObservable<T>> create) =>
        Start(create, ReactiveTest.Created, ReactiveTest.Subscribed, ReactiveTest.Disposed);

    /// <summary>Schedules <paramref name="action"/> at the absolute virtual time <paramref name="dueTime"/>.</summary>
    /// <param name="dueTime">The time in ticks; a past time runs at the current time.</param>
    /// <param name="action">The work.</param>
    /// <returns>Disposing it cancels the work if it has not run.</returns>
    public IDisposable ScheduleAbsolute(long dueTime, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return ScheduleAbsolute(action, dueTime, static (_, work) =>
        {
            work();
            return Disposable.Empty;
        });
    }

    /// <inheritdoc />
    protected override long Add(long absolute, long relative) => absolute + relative;

    /// <inheritdoc />
    protected override DateTimeOffset ToDateTimeOffset(long absolute) => new(Math.Max(absolute, 0), TimeSpan.Zero);

    /// <inheritdoc />
    protected override long ToRelative(TimeSpan timeSpan) => timeSpan.Ticks;
}
