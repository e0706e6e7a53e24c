namespace Nitro.Reactive.Events;

/// <summary>
/// What a listener that reads no vCPU register (<see cref="Listening.TrapStyle.Callback"/>) knows
/// about a trap: where it trapped, and what it found by following the plan's
/// <see cref="Listening.SavedFrameLocator"/>. The event's registers are then the thread's saved user
/// registers, not the vCPU's.
/// </summary>
/// <param name="Address">The kernel address that trapped (a <see cref="Listening.TrapPoint.Address"/>).</param>
/// <param name="FrameAddress">The kernel virtual address of the saved user frame the registers came from.</param>
/// <param name="TaskAddress">The current task (thread) at the trap, or 0 when it could not be read.</param>
/// <param name="VcpuBase">The vCPU's base the paths started from (Linux: its per-cpu offset).</param>
/// <param name="Deferred">
/// The event was taken from a streaming buffer after the vCPU went on: the registers are a copy made at
/// the trap, but whatever a back end reads from guest memory now (strings, structures, the process)
/// may have changed since; such values are read late.
/// </param>
public sealed record TrapContext(ulong Address, ulong FrameAddress, ulong TaskAddress, ulong VcpuBase, bool Deferred = false);
