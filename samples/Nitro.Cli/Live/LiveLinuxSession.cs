using System.Diagnostics;
using System.Reactive.Linq;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Tracing;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Targets;
using Nitro.Reactive.Machinery;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Live;

/// <summary>Options of a live session on a Linux guest under QEMU.</summary>
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
}

/// <summary>
/// Wires a live trace together: a traceable guest (QEMU started here, or a machine of a QEMU or
/// libvirt machinery), the kernel profile read from the guest, the Linux back end, and the gdbstub
/// listener. The back end plans the traps; the listener sets them. Disposal detaches and stops the
/// guest (through its machinery when it came from one).
/// </summary>
internal sealed class LiveLinuxSession : IAsyncDisposable
{
    /// <summary>libvirt's VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: the domain came back running from a snapshot.</summary>
    private const int RunningFromSnapshot = 4;

    private readonly Func<ValueTask> _release;
    private bool _released;

    private LiveLinuxSession(ITraceTarget target, Func<ValueTask> release, LinuxKernelProfile profile, LinuxBackend backend, GdbStubListener listener, bool waiting, TimeSpan profileTime)
    {
        Target = target;
        _release = release;
        Profile = profile;
        Backend = backend;
        Listener = listener;
        GuestIsWaiting = waiting;
        ProfileTime = profileTime;
    }

    /// <summary>Gets the traced guest.</summary>
    public ITraceTarget Target { get; }

    /// <summary>Gets the QEMU machine when the guest is one the SDK started (directly or through the QEMU machinery).</summary>
    public QemuMachine? Machine => Target as QemuMachine;

    public LinuxKernelProfile Profile { get; }

    public LinuxBackend Backend { get; }

    public GdbStubListener Listener { get; }

    public bool GuestIsWaiting { get; }

    public TimeSpan ProfileTime { get; }

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

        var machine = await QemuMachine.StartAsync(
            new QemuOptions { Kernel = options.Kernel, Initrd = options.Initrd, Append = append, MemoryMiB = options.MemoryMiB, Vcpus = options.Vcpus },
            cancellationToken);
        return await AttachAsync(machine, machine.DisposeAsync, options, alreadyWaiting: false, cancellationToken);
    }

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
            return await AttachAsync(
                target,
                ReleaseMachineryAsync,
                options with { WaitMarker = waits && !fromSnapshot ? options.WaitMarker : null },
                alreadyWaiting: waits && fromSnapshot,
                cancellationToken);
        }
        catch
        {
            await ReleaseMachineryAsync();
            throw;
        }
    }

    /// <summary>Reads the profile of a running guest and connects the listener; releases the guest on failure.</summary>
    private static async Task<LiveLinuxSession> AttachAsync(ITraceTarget target, Func<ValueTask> release, LiveSessionOptions options, bool alreadyWaiting, CancellationToken cancellationToken)
    {
        try
        {
            var waiting = alreadyWaiting;
            if (options.WaitMarker is not null)
            {
                await target.WaitForConsoleAsync(options.WaitMarker, options.BootTimeout, cancellationToken);
                waiting = true;
            }

            var clock = Stopwatch.StartNew();
            var (profile, backend) = await BuildProfileAsync(target, waiting ? TimeSpan.Zero : options.BootTimeout, cancellationToken);
            var profileTime = clock.Elapsed;
            var listener = await GdbStubListener.ConnectAsync(target.GdbSocketPath, TimeSpan.FromSeconds(10), cancellationToken);
            return new LiveLinuxSession(target, release, profile, backend, listener, waiting, profileTime);
        }
        catch
        {
            await release();
            throw;
        }
    }

    /// <summary>
    /// The decoded calls of the guest: every call, or only the named ones. The stream completes when
    /// the guest powers off; a gdbstub lost because the guest's QEMU went away with it (libvirt
    /// destroys a domain whose guest powered off) counts as that, not as a failure.
    /// </summary>
    public IObservable<Syscall> Syscalls(IReadOnlyCollection<string>? names) =>
        Observable.Defer(() => Backend.Process(Listener.Listen(Backend.CreatePlan(names))))
            .Catch((GdbTargetLostException lost) => Observable.FromAsync(GuestEndedAsync)
                .SelectMany(ended => ended ? Observable.Empty<Syscall>() : Observable.Throw<Syscall>(lost)));

    /// <summary>Whether the guest has stopped, waiting briefly for its QEMU to finish going away.</summary>
    private async Task<bool> GuestEndedAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < 50 && !Target.HasExited; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return Target.HasExited;
    }

    /// <summary>Lets a guest that waits (nitro.wait) start its workload.</summary>
    public async Task ReleaseWorkloadAsync()
    {
        if (GuestIsWaiting && !_released)
        {
            _released = true;
            await Target.SendConsoleLineAsync(string.Empty);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Listener.DisposeAsync();
        await _release();
    }

    /// <summary>
    /// Reads the profile while the guest is paused and plans the traps; without a marker, polls
    /// until the kernel is far enough in its boot (relocated, alternatives applied) for both.
    /// </summary>
    private static async Task<(LinuxKernelProfile Profile, LinuxBackend Backend)> BuildProfileAsync(ITraceTarget target, TimeSpan pollFor, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + pollFor;
        while (true)
        {
            await target.PauseAsync(cancellationToken);
            try
            {
                var profile = LinuxKernelProfile.LoadOrBuild(target.Memory, cancellationToken: cancellationToken);
                var backend = new LinuxBackend(target.Memory, profile);

                // Early in boot handlers still begin with 'call __fentry__' (ftrace patches them to
                // NOPs later); planning one handler trap tells whether that has happened.
                backend.CreatePlan(["read"]);
                return (profile, backend);
            }
            catch (ProfileException) when (DateTime.UtcNow < deadline)
            {
                // The kernel has not finished booting (or decompressing) yet.
            }
            finally
            {
                await target.ResumeAsync(cancellationToken);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }
}
