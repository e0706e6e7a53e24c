using Nitro.Backends.Linux.Tracing;
using Nitro.Backends.Windows.Tracing;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Targets;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Machinery;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Live;

/// <summary>The guest's operating system as <c>--os</c> gives it.</summary>
internal enum GuestOs
{
    /// <summary>The machine's <c>platform</c> with <c>--machine</c>, else Linux (a kernel booted with <c>--kernel</c>).</summary>
    Auto,

    /// <summary>Linux: <see cref="LinuxBackendFactory"/>.</summary>
    Linux,

    /// <summary>x64 Windows: <see cref="WindowsBackendFactory"/>, with the symbols directory of <see cref="LiveSessionOptions.WindowsSymbols"/>.</summary>
    Windows,
}

/// <summary>Options of a live session on a guest under QEMU, as the command line gives them.</summary>
internal sealed record LiveSessionOptions
{
    public required string Kernel { get; init; }

    public string? Initrd { get; init; }

    public string? Append { get; init; }

    public int MemoryMiB { get; init; } = 256;

    public int Vcpus { get; init; } = 1;

    /// <summary>A console line that means the kernel is up and the workload waits for us (the bundled guest's nitro.wait).</summary>
    public string? WaitMarker { get; init; } = "NITRO-WAITING";

    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>A machine of a machinery configuration to start instead of <see cref="Kernel"/>.</summary>
    public string? MachineLabel { get; init; }

    /// <summary>The machinery configuration (<c>conf/qemu.conf</c>, <c>conf/kvm.conf</c> or <c>conf/libvirt.conf</c>) that defines <see cref="MachineLabel"/>.</summary>
    public string? MachineryConfiguration { get; init; }

    /// <summary>The listener: the trap plugin by default when it can be built, else the gdbstub.</summary>
    public ListenerChoice Listener { get; init; } = ListenerChoice.Auto;

    /// <summary>How the plugin hands traps over (synchronous by default), its spins and timeouts.</summary>
    public PluginListenerOptions Plugin { get; init; } = new();

    /// <summary>The guest's operating system, which picks the back end.</summary>
    public GuestOs Os { get; init; } = GuestOs.Auto;

    /// <summary>A Volatility 3 symbols directory for Windows kernels (<c>windows/ntkrnlmp.pdb/GUID-AGE.json.xz</c>), or <see langword="null"/> for built-in offsets.</summary>
    public string? WindowsSymbols { get; init; }
}

/// <summary>
/// The command line's live session: the SDK's <see cref="TraceSession"/> (the same call an embedding
/// tool makes) plus what only the CLI knows — which machinery module a configuration file names, which
/// back end a machine's platform calls for, and the bundled guest's <c>nitro.wait</c> convention.
/// </summary>
internal sealed class LiveSession : IAsyncDisposable
{
    /// <summary>libvirt's VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: the domain came back running from a snapshot.</summary>
    private const int RunningFromSnapshot = 4;

    private LiveSession(TraceSession trace) => Trace = trace;

    /// <summary>Gets the SDK session.</summary>
    public TraceSession Trace { get; }

    /// <summary>Gets the traced guest.</summary>
    public ITraceTarget Target => Trace.Target;

    /// <summary>Gets the QEMU machine when the guest is one the SDK started (directly or through the QEMU machinery).</summary>
    public QemuMachine? Machine => Target as QemuMachine;

    public SyscallBackend Backend => Trace.Backend;

    /// <summary>Gets the Linux back end, or <see langword="null"/> for another guest.</summary>
    public LinuxBackend? Linux => Trace.Backend as LinuxBackend;

    /// <summary>Gets the trace format's name of the guest's system: <c>linux</c> or <c>windows</c>.</summary>
    public string Os => Trace.Backend is WindowsBackend ? "windows" : "linux";

    /// <summary>Gets what identifies the kernel: Linux's banner, or the Windows profile's name (build and PDB).</summary>
    public string Kernel => Trace.Backend switch
    {
        LinuxBackend linux => linux.Profile.Banner,
        WindowsBackend windows => "Windows " + windows.Profile.Name,
        var other => other.GetType().Name,
    };

    public INitroListener Listener => Trace.Listener;

    public TimeSpan ProfileTime => Trace.ProfileTime;

    /// <summary>Gets the traps so far: breakpoint stops that became events (gdbstub), or requested traps handed to the host (plugin).</summary>
    public long Traps => Listener switch
    {
        GdbStubListener gdb => gdb.Statistics.Traps,
        PluginListener plugin => plugin.Statistics.Forwarded,
        _ => 0,
    };

    public static async Task<LiveSession> StartAsync(LiveSessionOptions options, CancellationToken cancellationToken)
    {
        if (options.MachineLabel is { } label && options.MachineryConfiguration is { } conf)
        {
            return await StartMachineAsync(label, conf, options, cancellationToken);
        }

        if (options.Os == GuestOs.Windows)
        {
            throw new ArgumentException("A Windows guest boots from its disk image, not from --kernel: give --machine LABEL --conf FILE (a machinery configuration with platform = windows).", nameof(options));
        }

        var append = options.Append ?? "quiet panic=-1";
        if (options.WaitMarker is not null && !append.Contains("nitro.wait", StringComparison.Ordinal))
        {
            append += " nitro.wait";
        }

        var qemu = new QemuOptions { Kernel = options.Kernel, Initrd = options.Initrd, Append = append, MemoryMiB = options.MemoryMiB, Vcpus = options.Vcpus };
        return new LiveSession(await TraceSession.StartAsync(qemu, LinuxBackendFactory.Default, SessionOptions(options), cancellationToken));
    }

    public IObservable<Syscall> Syscalls(IReadOnlyCollection<string>? names) => Trace.Syscalls(names);

    public Task WaitUntilAttachedAsync(CancellationToken cancellationToken = default) => Trace.WaitUntilAttachedAsync(cancellationToken);

    /// <summary>Lets a guest that waits (nitro.wait) start its workload.</summary>
    public Task ReleaseWorkloadAsync() => Trace.ReleaseWorkloadAsync();

    public ValueTask DisposeAsync() => Trace.DisposeAsync();

    private static TraceSessionOptions SessionOptions(LiveSessionOptions options, bool markerSeen = false) => new()
    {
        Listener = options.Listener,
        Plugin = options.Plugin,
        WaitMarker = options.WaitMarker,
        WaitMarkerSeen = markerSeen,
        BootTimeout = options.BootTimeout,
    };

    /// <summary>The back end of <paramref name="os"/>, or of the machine's <paramref name="platform"/> when <paramref name="os"/> is <see cref="GuestOs.Auto"/>.</summary>
    /// <exception cref="ArgumentException">The platform names no system this SDK traces.</exception>
    internal static ISyscallBackendFactory BackendFor(GuestOs os, string? platform, string? windowsSymbols, string label) => os switch
    {
        GuestOs.Linux => LinuxBackendFactory.Default,
        GuestOs.Windows => new WindowsBackendFactory(windowsSymbols),
        _ when platform is null || string.Equals(platform, MachinePlatform.Linux, StringComparison.OrdinalIgnoreCase) => LinuxBackendFactory.Default,
        _ when string.Equals(platform, MachinePlatform.Windows, StringComparison.OrdinalIgnoreCase) => new WindowsBackendFactory(windowsSymbols),
        _ => throw new ArgumentException($"machine '{label}' has platform '{platform}', which this SDK cannot trace (linux or windows); give --os linux or --os windows to override.", nameof(platform)),
    };

    /// <summary>The machinery named by the configuration file starts the machine, and stops it when the session ends.</summary>
    private static async Task<LiveSession> StartMachineAsync(string label, string conf, LiveSessionOptions options, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(conf))!;
        var module = Path.GetFileNameWithoutExtension(conf);
        MachineryModule machinery = module switch
        {
            "qemu" => new QemuMachinery(directory),
            "kvm" => new KvmMachinery(directory),
            "libvirt" => new LibvirtMachinery("libvirt", directory),
            _ => throw new MachineryException(label, $"no machinery module '{module}' can be traced (supported: qemu, kvm, libvirt); name the file after its module, e.g. conf/kvm.conf.", null),
        };

        async ValueTask ReleaseMachineryAsync()
        {
            try
            {
                await machinery.ShutdownAsync(CancellationToken.None);
            }
            finally
            {
                switch (machinery)
                {
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync();
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                }
            }
        }

        try
        {
            await machinery.InitializeAsync(cancellationToken);
            var platform = machinery.Machines.FirstOrDefault(m => string.Equals(m.Label, label, StringComparison.Ordinal))?.Platform;
            var os = BackendFor(options.Os, platform, options.WindowsSymbols, label);
            await machinery.StartAsync(label, cancellationToken);
            var target = ((ITraceableMachinery)machinery).OpenTraceTarget(label);

            // Only a Linux guest booted with nitro.wait waits for the host (Windows has no such convention).
            var waits = os is LinuxBackendFactory && target.KernelCommandLine?.Contains("nitro.wait", StringComparison.Ordinal) == true;

            // A domain reverted to a snapshot taken while its guest waited (nitro.wait) still waits,
            // but the marker is not printed again.
            var fromSnapshot = target is LibvirtTraceTarget domain && domain.State.Reason == RunningFromSnapshot;
            var session = await TraceSession.AttachAsync(
                target,
                os,
                SessionOptions(options with { WaitMarker = waits ? options.WaitMarker : null }, markerSeen: waits && fromSnapshot),
                ReleaseMachineryAsync,
                cancellationToken);
            return new LiveSession(session);
        }
        catch
        {
            await ReleaseMachineryAsync();
            throw;
        }
    }
}
