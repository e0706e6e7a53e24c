using Nitro.Reactive.Events;

namespace Nitro.Reactive.Listening;

/// <summary>
/// A source of system call traps for one virtual machine: QEMU's gdbstub with breakpoints, or
/// Nitro's patched KVM with its ioctls. Switching source is one line; the rest of a pipeline does
/// not change.
/// </summary>
public interface INitroListener : IAsyncDisposable
{
    /// <summary>
    /// Attaches to the guest on subscription and detaches on disposal. Each trapped vCPU stays paused
    /// while synchronous observers run (they may read memory and change registers through
    /// <see cref="NitroEvent.Handle"/>), and is resumed afterwards. The stream ends with an error when
    /// the connection to the hypervisor is lost or an observer throws; in every case the guest is
    /// left running with no traps.
    /// </summary>
    /// <param name="plan">Where to trap (addresses for breakpoint listeners, call numbers for in-kernel filters).</param>
    /// <returns>The merged events of all vCPUs (serialized, each carrying its vCPU index).</returns>
    IObservable<NitroEvent> Listen(TrapPlan plan);

    /// <summary>Gets how this listener traps, so that a back end makes the right plan (<see cref="ITrapPlanner.CreatePlan(IReadOnlyCollection{string}?, TrapStyle)"/>).</summary>
    TrapStyle Style => TrapStyle.Breakpoint;
}
