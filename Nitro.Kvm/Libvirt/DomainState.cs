namespace Nitro.Kvm.Libvirt;

/// <summary>The state of a libvirt domain; the values mirror libvirt's <c>virDomainState</c>.</summary>
public enum DomainState
{
    /// <summary>No state (VIR_DOMAIN_NOSTATE).</summary>
    NoState = 0,

    /// <summary>The domain is running (VIR_DOMAIN_RUNNING).</summary>
    Running = 1,

    /// <summary>The domain is blocked on a resource (VIR_DOMAIN_BLOCKED).</summary>
    Blocked = 2,

    /// <summary>The domain is paused by the user (VIR_DOMAIN_PAUSED).</summary>
    Paused = 3,

    /// <summary>The domain is being shut down (VIR_DOMAIN_SHUTDOWN).</summary>
    Shutdown = 4,

    /// <summary>The domain is shut off (VIR_DOMAIN_SHUTOFF).</summary>
    Shutoff = 5,

    /// <summary>The domain has crashed (VIR_DOMAIN_CRASHED).</summary>
    Crashed = 6,

    /// <summary>The domain is suspended by guest power management (VIR_DOMAIN_PMSUSPENDED).</summary>
    PMSuspended = 7,
}
