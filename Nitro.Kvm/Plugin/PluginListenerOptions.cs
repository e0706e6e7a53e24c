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

    /// <summary>
    /// Gets how many pause iterations the plugin spins before sleeping on a futex. Measured on a
    /// 2-core machine (dd bs=1, 200,000 traps): 300 gave 19,000 traps/s, 3000 gave 82,000, because
    /// the host's decoding outlasts a short spin and every futex sleep costs a wake-up.
    /// </summary>
    public int PluginSpin { get; init; } = 3000;

    /// <summary>
    /// Gets how many spin iterations a host thread spins before sleeping on a futex (200 gave 7,800
    /// traps/s in the same measurement: the guest's next trap comes within microseconds).
    /// </summary>
    public int HostSpin { get; init; } = 2000;

    /// <summary>Gets how long to wait for the plugin to take a new plan.</summary>
    public TimeSpan PlanTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets how long the listener waits for the plugin to take a new plan before it calls
    /// <see cref="NudgeGuest"/> (and again each time this much longer passes).
    /// </summary>
    public TimeSpan NudgeAfter { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets what makes the guest's vCPUs call into the plugin when the plan waits: the plugin takes a
    /// plan only on a vCPU thread — at a trap, a translation, or when the vCPU idles or resumes — so a
    /// guest that spins in user mode without a system call would never take it. Pausing and resuming
    /// the guest (QMP <c>stop</c> / <c>cont</c>) makes every vCPU idle and resume.
    /// <see cref="Tracing.TraceSession"/> sets it to pause and resume its target; <see langword="null"/>
    /// waits for the guest alone.
    /// </summary>
    public Func<CancellationToken, Task>? NudgeGuest { get; init; }
}
