using System.Reactive.Disposables;

namespace Nitro.Kvm.Libvirt;

/// <summary>
/// The lifecycle event stream of one connection. libvirt accepts one registration per connection
/// and callback, so all subscribers share a single native registration, made for the first
/// subscriber and removed after the last. Each subscriber has its own sink: an observer that
/// throws ends only its own subscription.
/// </summary>
internal sealed class LifecycleEventHub : IObservable<DomainLifecycleEvent>, Interop.Libvirt.ILifecycleEventSink
{
    private readonly SafeConnectHandle _connection;
    private readonly string _uri;
    private readonly Lock _gate = new();
    private LifecycleEventSink[] _sinks = [];
    private int _callbackId = -1;

    public LifecycleEventHub(SafeConnectHandle connection, string uri)
    {
        _connection = connection;
        _uri = uri;
    }

    public IDisposable Subscribe(IObserver<DomainLifecycleEvent> observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var sink = new LifecycleEventSink(observer);
        lock (_gate)
        {
            if (_sinks.Length == 0)
            {
                ObjectDisposedException.ThrowIf(_connection.IsClosed, typeof(LibvirtConnection));
                var id = Interop.Libvirt.RegisterLifecycleEvents(_connection, this);
                if (id < 0)
                {
                    observer.OnError(LibvirtException.FromLastError($"Registering for lifecycle events on {_uri}"));
                    return Disposable.Empty;
                }

                _callbackId = id;
            }

            Volatile.Write(ref _sinks, [.. _sinks, sink]);
        }

        return Disposable.Create(() => Unsubscribe(sink));
    }

    public void OnLifecycleEvent(string domainName, int eventType, int detail)
    {
        foreach (var sink in Volatile.Read(ref _sinks))
        {
            sink.OnLifecycleEvent(domainName, eventType, detail);
        }
    }

    private void Unsubscribe(LifecycleEventSink sink)
    {
        sink.Stop();
        lock (_gate)
        {
            var index = Array.IndexOf(_sinks, sink);
            if (index < 0)
            {
                return;
            }

            LifecycleEventSink[] remaining = [.. _sinks.AsSpan(0, index), .. _sinks.AsSpan(index + 1)];
            Volatile.Write(ref _sinks, remaining);
            if (remaining.Length == 0)
            {
                Interop.Libvirt.DeregisterEvents(_connection, _callbackId);
                _callbackId = -1;
            }
        }
    }
}
