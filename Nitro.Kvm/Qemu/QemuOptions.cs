namespace Nitro.Kvm.Qemu;

/// <summary>Which accelerator QEMU uses.</summary>
public enum QemuAccelerator
{
    /// <summary>KVM when <c>/dev/kvm</c> really works (the CPU has VMX or SVM), else TCG.</summary>
    Auto,

    /// <summary>QEMU's software emulator (TCG).</summary>
    Tcg,

    /// <summary>Hardware virtualization through <c>/dev/kvm</c>.</summary>
    Kvm,
}

/// <summary>How to start a QEMU guest for tracing.</summary>
public sealed class QemuOptions
{
    /// <summary>Gets or sets the kernel image (<c>-kernel</c>).</summary>
    public required string Kernel { get; set; }

    /// <summary>Gets or sets the initramfs (<c>-initrd</c>), if any.</summary>
    public string? Initrd { get; set; }

    /// <summary>Gets or sets the kernel command line; <c>console=ttyS0</c> is added when missing.</summary>
    public string? Append { get; set; }

    /// <summary>Gets or sets the guest RAM in MiB (at most 3072, so that guest physical = file offset).</summary>
    public int MemoryMiB { get; set; } = 256;

    /// <summary>Gets or sets the number of vCPUs.</summary>
    public int Vcpus { get; set; } = 1;

    /// <summary>Gets or sets the accelerator.</summary>
    public QemuAccelerator Accelerator { get; set; } = QemuAccelerator.Auto;

    /// <summary>Gets or sets a value indicating whether the guest starts paused at its first instruction (<c>-S</c>).</summary>
    public bool StartPaused { get; set; }

    /// <summary>Gets or sets the VM name (<c>-name guest=…</c>), by which its QEMU process can be found.</summary>
    public string Name { get; set; } = "nitro-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Gets or sets the QEMU binary.</summary>
    public string QemuPath { get; set; } = "qemu-system-x86_64";

    /// <summary>Gets or sets the directory for sockets and the console log; a new temporary directory when <see langword="null"/>.</summary>
    public string? WorkDirectory { get; set; }

    /// <summary>Gets or sets the directory of the guest RAM file (<c>/dev/shm</c> by default).</summary>
    public string MemoryDirectory { get; set; } = "/dev/shm";

    /// <summary>
    /// Gets or sets the trap plugin to load (<c>-plugin</c>), for <see cref="Plugin.PluginListener"/>;
    /// <see langword="null"/> for none (the gdbstub listener needs none).
    /// </summary>
    public TrapPluginLaunch? TrapPlugin { get; set; }

    /// <summary>Gets extra QEMU arguments appended as given.</summary>
    public IList<string> ExtraArguments { get; } = [];
}

/// <summary>How QEMU loads the trap plugin.</summary>
/// <param name="PluginPath">The built plugin (<see cref="Plugin.TrapPlugin.EnsureBuilt"/>).</param>
/// <param name="HoldAtFirstUserInstruction">
/// Hold the first vCPU that reaches user mode until a listener has set a plan (bounded by
/// <paramref name="HoldTimeout"/>), so that a guest that does not wait for the tracer loses not even
/// its first user-mode system call.
/// </param>
/// <param name="HoldTimeout">The longest hold; the guest then goes on untraced.</param>
public sealed record TrapPluginLaunch(string PluginPath, bool HoldAtFirstUserInstruction = false, TimeSpan HoldTimeout = default);
