using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Targets;

/// <summary>
/// What a live trace needs from a running QEMU guest, however it was started: its trap plugin or
/// gdbstub, its physical memory, a way to pause it while the kernel profile is read, and its serial console.
/// <see cref="Qemu.QemuMachine"/> (started by the SDK) and <see cref="LibvirtTraceTarget"/> (a
/// domain of a local libvirt daemon) are the two implementations.
/// </summary>
public interface ITraceTarget
{
    /// <summary>Gets the guest's name (the QEMU <c>-name</c> or the libvirt domain).</summary>
    string Name { get; }

    /// <summary>Gets the unix socket of the guest's gdbstub, or <see langword="null"/> when it opens none (then only the trap plugin can trace it).</summary>
    string? GdbSocketPath { get; }

    /// <summary>
    /// Gets the control file of the trap plugin QEMU was started with (<see cref="Plugin.PluginListener"/>),
    /// or <see langword="null"/> when it runs without the plugin.
    /// </summary>
    string? PluginControlPath => null;

    /// <summary>Gets the Linux kernel command line the guest was booted with, when the host knows it.</summary>
    string? KernelCommandLine { get; }

    /// <summary>Gets a value indicating whether the guest has stopped for good (powered off, its QEMU gone).</summary>
    bool HasExited { get; }

    /// <summary>Gets the guest's physical memory, opened on first use and closed with the target.</summary>
    IGuestMemory Memory { get; }

    /// <summary>Pauses every vCPU.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the guest is paused.</returns>
    Task PauseAsync(CancellationToken cancellationToken);

    /// <summary>Resumes every vCPU.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the guest runs again.</returns>
    Task ResumeAsync(CancellationToken cancellationToken);

    /// <summary>Waits until a line the guest printed on its serial console (since it was started) contains <paramref name="marker"/>.</summary>
    /// <param name="marker">The text to wait for.</param>
    /// <param name="timeout">The deadline.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The matching line.</returns>
    /// <exception cref="TimeoutException">The marker did not appear in time; the message names the last line seen.</exception>
    Task<string> WaitForConsoleAsync(string marker, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Types a line on the guest's serial console.</summary>
    /// <param name="line">The text, without the newline.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the line was written.</returns>
    Task SendConsoleLineAsync(string line, CancellationToken cancellationToken = default);
}
