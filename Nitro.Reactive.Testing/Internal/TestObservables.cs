using System.Reactive;
using System.Reactive.Disposables;

namespace Nitro.Reactive.Testing.Internal;

/// <summary>Plays its messages at their absolute times to whoever is subscribed then.</summary>
internal sealed class HotObservable<T> : ITestableObservable<T>
{
    private readonly TestScheduler _scheduler;
    private readonly Recorded<Notification<T>>[] _messages;
    private readonly List<IObserver<T>> _observers = [];
    private readonly List<Subscription> _subscriptions = [];

    public HotObservable(TestScheduler scheduler, Recorded<Notification<T>>[] messages)
    {
        _scheduler = scheduler;
        _messages = [.. messages];
        foreach (var message in _messages)
        {
            var notification = message.Value;
            scheduler.ScheduleAbsolute(message.Time, () =>
            {
                foreach (var observer in _observers.ToArray())
                {
                    notification.Accept(observer);
                }
            });
        }
    }

    public IReadOnlyList<Subscription> Subscriptions => _subscriptions;

    public IReadOnlyList<Recorded<Notification<T>>> Messages => _messages;

    public IDisposable Subscribe(IObserver<T> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observers.Add(observer);
        var index = _subscriptions.Count;
        var start = _scheduler.Clock;
        _subscriptions.Add(new Subscription(start));
        return Disposable.Create(() =>
        {
            _observers.Remove(observer);
            _subscriptions[index] = new Subscription(start, _scheduler.Clock);
        });
    }
}

/// <summary>Plays all its messages to each subscriber, relative to that subscription's time.</summary>
internal sealed class ColdObservable<T> : ITestableObservable<T>
{
    private readonly TestScheduler _scheduler;
    private readonly Recorded<Notification<T>>[] _messages;
    private readonly List<Subscription> _subscriptions = [];

    public ColdObservable(TestScheduler scheduler, Recorded<Notification<T>>[] messages)
    {
        _scheduler = scheduler;
        _messages = [.. messages];
    }

    public IReadOnlyList<Subscription> Subscriptions => _subscriptions;

    public IReadOnlyList<Recorded<Notification<T>>> Messages => _messages;

    public IDisposable Subscribe(IObserver<T> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var index = _subscriptions.Count;
        var start = _scheduler.Clock;
        _subscriptions.Add(new Subscription(start));
        var pending = new CompositeDisposable(_messages.Length);
        foreach (var message in _messages)
        {
            var notification = message.Value;
            pending.Add(_scheduler.ScheduleAbsolute(start + message.Time, () => notification.Accept(observer)));
        }

        return Disposable.Create(() =>
        {
            _subscriptions[index] = new Subscription(start, _scheduler.Clock);
            pending.Dispose();
        });
    }
}

/// <summary>Records each notification with the virtual time it arrived at.</summary>
internal sealed class RecordingObserver<T>(TestScheduler scheduler) : ITestableObserver<T>
{
    private readonly List<Recorded<Notification<T>>> _messages = [];

    public IReadOnlyList<Recorded<Notification<T>>> Messages => _messages;

    public void OnNext(T value) => _messages.Add(new(scheduler.Clock, Notification.CreateOnNext(value)));

    public void OnError(Exception error) => _messages.Add(new(scheduler.Clock, Notification.CreateOnError<T>(error)));

    public void OnCompleted() => _messages.Add(new(scheduler.Clock, Notification.CreateOnCompleted<T>()));
}
