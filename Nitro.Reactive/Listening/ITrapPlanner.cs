namespace Nitro.Reactive.Listening;

/// <summary>Implemented by OS back ends that can tell a listener where to trap.</summary>
public interface ITrapPlanner
{
    /// <summary>Computes the breakpoint plan for tracing every call, or only the named ones.</summary>
    /// <param name="syscalls">Short names of the calls to trace (<c>openat</c>), or <see langword="null"/> / empty for all.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentException">A requested name is not a system call of this guest.</exception>
    TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls);

    /// <summary>Computes the plan for a listener of the given <paramref name="style"/>.</summary>
    /// <param name="syscalls">Short names of the calls to trace, or <see langword="null"/> / empty for all.</param>
    /// <param name="style">How the listener traps (<see cref="INitroListener.Style"/>).</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentException">A requested name is not a system call of this guest.</exception>
    /// <exception cref="NotSupportedException">The back end cannot plan for that kind of listener.</exception>
    TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls, TrapStyle style) =>
        style == TrapStyle.Breakpoint
            ? CreatePlan(syscalls)
            : throw new NotSupportedException($"{GetType().Name} cannot plan traps for a {style} listener; use a breakpoint listener (gdbstub).");
}
