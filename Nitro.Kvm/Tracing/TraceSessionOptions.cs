using Nitro.Kvm.Plugin;

namespace Nitro.Kvm.Tracing;

/// <summary>Which listener a <see cref="TraceSession"/> uses.</summary>
public enum ListenerChoice
{
    /// <summary>The trap plugin when it can be built and QEMU runs TCG; else the gdbstub, with the reason in <see cref="TraceSession.ListenerFallbackReason"/>.</summary>
    Auto,

    /// <summary>The trap plugin (<see cref="PluginListener"/>), or an error saying why it cannot be used.</summary>
    Plugin,

    /// <summary>QEMU's gdbstub (<see cref="Listening.GdbStubListener"/>): slow under TCG, but works under KVM too.</summary>
    GdbStub,
}

/// <summary>Options of a <see cref="TraceSession"/>.</summary>
public sealed record TraceSessionOptions
{
    /// <summary>Gets which listener to use.</summary>
    public ListenerChoice Listener { get; init; } = ListenerChoice.Auto;

    /// <summary>Gets the plugin listener's options (delivery mode, host timeout).</summary>
    public PluginListenerOptions Plugin { get; init; } = new();

    /// <summary>
    /// Gets a console line that means the guest's workload waits for the tracer (the bundled guest's
    /// <c>NITRO-WAITING</c> under <c>nitro.wait</c>); <see cref="TraceSession.ReleaseWorkloadAsync"/>
    /// then waits for it and types a newline. <see langword="null"/> for guests that do not wait: the
    /// plugin holds the first user-mode instruction until the plan is set, the gdbstub attaches as soon
    /// as the kernel is up.
    /// </summary>
    public string? WaitMarker { get; init; }

    /// <summary>
    /// Gets a value indicating whether the guest already printed <see cref="WaitMarker"/> before the
    /// session began (a domain reverted to a snapshot taken while it waited): the session then neither
    /// waits for the marker nor expects it again, and releasing the workload types the newline at once.
    /// </summary>
    public bool WaitMarkerSeen { get; init; }

    /// <summary>Gets how long the guest may take to boot far enough to be traced.</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(120);
}
