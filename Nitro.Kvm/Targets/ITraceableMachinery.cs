namespace Nitro.Kvm.Targets;

/// <summary>A machinery module whose started machines can be traced live.</summary>
public interface ITraceableMachinery
{
    /// <summary>
    /// Opens a started machine for tracing. The target stays valid while the machine runs; the
    /// machinery closes it when it stops the machine or is disposed.
    /// </summary>
    /// <param name="label">The machine's label.</param>
    /// <returns>The machine's gdbstub, memory and console.</returns>
    /// <exception cref="Reactive.Machinery.MachineryException">The machine is unknown, not running, or cannot be traced (the message says why).</exception>
    ITraceTarget OpenTraceTarget(string label);
}
