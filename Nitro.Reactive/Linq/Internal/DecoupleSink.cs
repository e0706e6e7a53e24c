using System.Reactive.Disposables;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Statistics;

namespace Nitro.Reactive.Linq.Internal;

/// <summary>
/// One subscription of <c>Decouple</c>: a ring buffer guarded by a monitor, filled by the source's
/// thread and drained by a dedicated consumer thread.
/// </summary>
internal sealed class DecoupleSink<T> : IDisposable
{
    private readonly object _gate = new(); // Monitor.Wait / PulseAll need a monitor, not a Lock
    private readonly T[] _ring;
    private readonly OverflowPolicy _policy;
    private readonly NitroStatistics? _statistics;
    private readonly IObserver<T> _observer;
    private readonly SingleAssignmentDisposable _upstream = new();
    private int _head;
    private int _count;
    private bool _completed;
    private Exception? _error;
    private bool _disposed;

    public DecoupleSink(IObservable<T> source, IObserver<T> observer, int capacity, OverflowPolicy policy, NitroStatistics? statistics)
    {
        _ring = new T[capacity];
        _policy = policy;
        _statistics = statistics;
        _observer = observer;
        var consumer = new Thread(Drain) { IsBackground = true, Name = "nitro-decouple" };
        consumer.Start();
        _upstream.Disposable = source.Subscribe(Enqueue, Fail, Complete);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Array.Clear(_ring);
            _count = 0;
            Monitor.PulseAll(_gate);
        }

        _upstream.Dispose();
    }

    private void Enqueue(T item)
    {
        lock (_gate)
        {
            while (_count == _ring.Length && !_disposed)
            {
                switch (_policy)
                {
                    case OverflowPolicy.DropNewest:
                        _statistics!.AddDropped();
                        return;
                    case OverflowPolicy.DropOldest:
                        _ring[_head] = default!;
                        _head = (_head + 1) % _ring.Length;
                        _count--;
                        _statistics!.AddDropped();
                        break;
                    default:
                        Monitor.Wait(_gate);
                        break;
                }
            }

            if (_disposed || _completed || _error is not null)
            {
                return;
            }

            _ring[(_head + _count) % _ring.Length] = item;
            _count++;
            if (_count == 1)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void Fail(Exception error)
    {
        lock (_gate)
        {
            _error ??= error;
            Monitor.PulseAll(_gate);
        }
    }

    private void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void Drain()
    {
        while (true)
        {
            T item;
            lock (_gate)
            {
                while (_count == 0 && !_completed && _error is null && !_disposed)
                {
                    Monitor.Wait(_gate);
                }

                if (_disposed)
                {
                    return;
                }

                if (_count == 0)
                {
                    break;
                }

                item = _ring[_head];
                _ring[_head] = default!;
                _head = (_head + 1) % _ring.Length;
                if (_count-- == _ring.Length)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            try
            {
                _observer.OnNext(item);
            }
            catch (Exception ex)
            {
                Dispose();
                _observer.OnError(ex);
                return;
            }
        }

        if (_error is { } error)
        {
            _observer.OnError(error);
        }
        else
        {
            _observer.OnCompleted();
        }
    }
}
