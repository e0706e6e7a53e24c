namespace Nitro.Reactive.Listening;

/// <summary>Implemented by OS back ends that can tell a listener where to trap.</summary>
public interface ITrapPlanner
{
    /// <summary>Computes the trap plan for tracing every call, or only the named ones.</summary>
    /// <param name="syscalls">Short names of the calls to trace (<c>openat</c>), or <see langword="null"/> / empty for all.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentException">A requested name is not a system call of this guest.</exception>
    TrapPlan CreatePlan(IReadOnlyCollection<string>? syscalls);
}
