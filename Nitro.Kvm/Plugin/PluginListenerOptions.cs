namespace Nitro.Kvm.Plugin;

/// <summary>How the plugin hands traps to the host.</summary>
public enum PluginDeliveryMode
{
    /// <summary>
    /// Nitro's semantics (the default): the vCPU waits at each requested trap until observers have
    /// run, so they see consistent memory and may change arguments and return values.
    /// </summary>
    Synchronous,

    /// <summary>
    /// The plugin copies the saved frame and the current task into the vCPU's ring and the vCPU goes
    /// on; a full ring makes it wait (nothing is lost). Events are snapshots (no handle); whatever
    /// the back end reads from guest memory afterwards is read late (<see cref="Reactive.Events.TrapContext.Deferred"/>).
    /// </summary>
    Streaming,
}

/// <summary>Options of a <see cref="PluginListener"/>.</summary>
public sealed record PluginListenerOptions
{
    /// <summary>Gets how traps reach the host.</summary>
    public PluginDeliveryMode Mode { get; init; } = PluginDeliveryMode.Synchronous;

    /// <summary>
    /// Gets the longest time a vCPU waits for this host at one trap (or for room in its ring); after it
    /// the plugin counts the event as lost, lets the guest run on and the stream ends with an error.
    /// </summary>
    public TimeSpan HostTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets how many pause iterations the plugin spins before sleeping on a futex.</summary>
    public int PluginSpin { get; init; } = 300;

    /// <summary>Gets how many pause iterations a host thread spins before sleeping on a futex.</summary>
    public int HostSpin { get; init; } = 2000;

    /// <summary>Gets how long to wait for the plugin to take a new plan.</summary>
    public TimeSpan PlanTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
