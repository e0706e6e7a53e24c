namespace Nitro.Kvm.Libvirt;

/// <summary>
/// Forwards lifecycle events from libvirt's event loop thread (so calls are serialized) to one
/// observer; an exception from the observer's OnNext ends the stream with OnError.
/// </summary>
internal sealed class LifecycleEventSink : Interop.Libvirt.ILifecycleEventSink
{
    private readonly IObserver<DomainLifecycleEvent> _observer;
    private volatile bool _stopped;

    public LifecycleEventSink(IObserver<DomainLifecycleEvent> observer) => _observer = observer;

    public void Stop() => _stopped = true;

    public void OnLifecycleEvent(string domainName, int eventType, int detail)
    {
        if (_stopped)
        {
            return;
        }

        try
        {
            _observer.OnNext(new DomainLifecycleEvent(domainName, (DomainLifecycleEventKind)eventType, detail));
        }
#pragma warning disable CA1031 // Runs on libvirt's event loop: nothing may escape into native code.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _stopped = true;
            try
            {
                _observer.OnError(ex);
            }
#pragma warning disable CA1031
            catch (Exception)
#pragma warning restore CA1031
            {
                // An observer that throws from OnError has nowhere left to report to.
            }
        }
    }
}
