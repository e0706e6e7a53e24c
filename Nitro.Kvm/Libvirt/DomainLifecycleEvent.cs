namespace Nitro.Kvm.Libvirt;

/// <summary>A domain lifecycle event (libvirt's VIR_DOMAIN_EVENT_ID_LIFECYCLE).</summary>
/// <param name="DomainName">The domain the event is about.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Detail">libvirt's detail code for <paramref name="Kind"/> (a <c>virDomainEvent&lt;Kind&gt;DetailType</c> value).</param>
public readonly record struct DomainLifecycleEvent(string DomainName, DomainLifecycleEventKind Kind, int Detail);

/// <summary>The kind of a lifecycle event; the values mirror libvirt's <c>virDomainEventType</c>.</summary>
public enum DomainLifecycleEventKind
{
    /// <summary>The domain was defined (VIR_DOMAIN_EVENT_DEFINED).</summary>
    Defined = 0,

    /// <summary>The domain was undefined (VIR_DOMAIN_EVENT_UNDEFINED).</summary>
    Undefined = 1,

    /// <summary>The domain started (VIR_DOMAIN_EVENT_STARTED).</summary>
    Started = 2,

    /// <summary>The domain was paused (VIR_DOMAIN_EVENT_SUSPENDED).</summary>
    Suspended = 3,

    /// <summary>The domain was resumed (VIR_DOMAIN_EVENT_RESUMED).</summary>
    Resumed = 4,

    /// <summary>The domain stopped (VIR_DOMAIN_EVENT_STOPPED).</summary>
    Stopped = 5,

    /// <summary>The domain is shutting down (VIR_DOMAIN_EVENT_SHUTDOWN).</summary>
    Shutdown = 6,

    /// <summary>Guest power management suspended the domain (VIR_DOMAIN_EVENT_PMSUSPENDED).</summary>
    PMSuspended = 7,

    /// <summary>The domain crashed (VIR_DOMAIN_EVENT_CRASHED).</summary>
    Crashed = 8,
}
