using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Tracing;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Targets;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Machinery;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Live;

/// <summary>Options of a live session on a Linux guest under QEMU, as the command line gives them.</summary>
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
}

/// <summary>
/// The command line's live session: the SDK's <see cref="TraceSession"/> (the same call an embedding
/// tool makes) plus what only the CLI knows — which machinery module a configuration file names, and
/// the bundled guest's <c>nitro.wait</c> convention.
/// </summary>
internal sealed class LiveLinuxSession : IAsyncDisposable
{
    /// <summary>libvirt's VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: the domain came back running from a snapshot.</summary>
    private const int RunningFromSnapshot = 4;

    private LiveLinuxSession(TraceSession trace) => Trace = trace;

    /// <summary>Gets the SDK session.</summary>
    public TraceSession Trace { get; }

    /// <summary>Gets the traced guest.</summary>
    public ITraceTarget Target => Trace.Target;

    /// <summary>Gets the QEMU machine when the guest is one the SDK started (directly or through the QEMU machinery).</summary>
    public QemuMachine? Machine => Target as QemuMachine;

    public LinuxBackend Backend => (LinuxBackend)Trace.Backend;

    public LinuxKernelProfile Profile => Backend.Profile;

    public INitroListener Listener => Trace.Listener;

    public TimeSpan ProfileTime => Trace.ProfileTime;

    /// <summary>Gets the traps so far: breakpoint stops that became events (gdbstub), or requested traps handed to the host (plugin).</summary>
    public long Traps => Listener switch
    {
        GdbStubListener gdb => gdb.Statistics.Traps,
        PluginListener plugin => plugin.Statistics.Forwarded,
        _ => 0,
    };

    public static async Task<LiveLinuxSession> StartAsync(LiveSessionOptions options, CancellationToken cancellationToken)
    {
        if (options.MachineLabel is { } label && options.MachineryConfiguration is { } conf)
        {
            return await StartMachineAsync(label, conf, options, cancellationToken);
        }

        var append = options.Append ?? "quiet panic=-1";
        if (options.WaitMarker is not null && !append.Contains("nitro.wait", StringComparison.Ordinal))
        {
            append += " nitro.wait";
        }

        var qemu = new QemuOptions { Kernel = options.Kernel, Initrd = options.Initrd, Append = append, MemoryMiB = options.MemoryMiB, Vcpus = options.Vcpus };
        return new LiveLinuxSession(await TraceSession.StartAsync(qemu, LinuxBackendFactory.Default, SessionOptions(options), cancellationToken));
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

    /// <summary>The machinery named by the configuration file starts the machine, and stops it when the session ends.</summary>
    private static async Task<LiveLinuxSession> StartMachineAsync(string label, string conf, LiveSessionOptions options, CancellationToken cancellationToken)
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
            await machinery.StartAsync(label, cancellationToken);
            var target = ((ITraceableMachinery)machinery).OpenTraceTarget(label);
            var waits = target.KernelCommandLine?.Contains("nitro.wait", StringComparison.Ordinal) == true;

            // A domain reverted to a snapshot taken while its guest waited (nitro.wait) still waits,
            // but the marker is not printed again.
            var fromSnapshot = target is LibvirtTraceTarget domain && domain.State.Reason == RunningFromSnapshot;
            var session = await TraceSession.AttachAsync(
                target,
                LinuxBackendFactory.Default,
                SessionOptions(options with { WaitMarker = waits ? options.WaitMarker : null }, markerSeen: waits && fromSnapshot),
                ReleaseMachineryAsync,
                cancellationToken);
            return new LiveLinuxSession(session);
        }
        catch
        {
            await ReleaseMachineryAsync();
            throw;
        }
    }
}
