namespace Nitro.Reactive.Listening;

/// <summary>How a listener traps, and so what kind of <see cref="TrapPlan"/> it needs from a back end.</summary>
public enum TrapStyle
{
    /// <summary>
    /// The listener stops the vCPU at each address and reads its registers (QEMU's gdbstub, Nitro's
    /// ioctls); it steps past the trapped instruction as <see cref="TrapPoint.Emulation"/> says.
    /// </summary>
    Breakpoint,

    /// <summary>
    /// The listener runs a callback right before the instruction executes, without reading any
    /// register (a QEMU TCG plugin): the plan's points must be places where the kernel has already
    /// saved the caller's user registers, and <see cref="TrapPlan.Frames"/> must say where they are.
    /// </summary>
    Callback,
}
