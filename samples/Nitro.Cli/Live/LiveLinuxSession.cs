using System.Diagnostics;
using System.Reactive.Linq;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Tracing;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Memory;
using Nitro.Kvm.Qemu;
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

    /// <summary>A machine of a QEMU machinery configuration to start instead of <see cref="Kernel"/>.</summary>
    public string? MachineLabel { get; init; }

    /// <summary>The machinery configuration (<c>conf/qemu.conf</c>) that defines <see cref="MachineLabel"/>.</summary>
    public string? MachineryConfiguration { get; init; }
}

/// <summary>
/// Wires a live trace together: QEMU with shared RAM and a gdbstub, the kernel profile read from
/// the guest, the Linux back end, and the gdbstub listener. The back end plans the traps; the
/// listener sets them. Disposal detaches and stops QEMU.
/// </summary>
internal sealed class LiveLinuxSession : IAsyncDisposable
{
    private readonly SharedMemoryGuestMemory _memory;
    private bool _released;
    private QemuMachinery? _machinery;

    private LiveLinuxSession(QemuMachine machine, SharedMemoryGuestMemory memory, LinuxKernelProfile profile, LinuxBackend backend, GdbStubListener listener, bool waiting, TimeSpan profileTime)
    {
        Machine = machine;
        _memory = memory;
        Profile = profile;
        Backend = backend;
        Listener = listener;
        GuestIsWaiting = waiting;
        ProfileTime = profileTime;
    }

    public QemuMachine Machine { get; }

    public LinuxKernelProfile Profile { get; }

    public LinuxBackend Backend { get; }

    public GdbStubListener Listener { get; }

    public bool GuestIsWaiting { get; }

    public TimeSpan ProfileTime { get; }

    public static async Task<LiveLinuxSession> StartAsync(LiveSessionOptions options, CancellationToken cancellationToken)
    {
        if (options.MachineLabel is { } label && options.MachineryConfiguration is { } conf)
        {
            // The machinery starts the machine from its configuration and stops it when the session ends.
            var machinery = new QemuMachinery(Path.GetDirectoryName(conf)!);
            try
            {
                await machinery.InitializeAsync(cancellationToken);
                await machinery.StartAsync(label, cancellationToken);
                var running = machinery.GetRunning(label);
                var waits = running.Options.Append?.Contains("nitro.wait", StringComparison.Ordinal) == true;
                var session = await AttachAsync(running, options with { WaitMarker = waits ? options.WaitMarker : null }, cancellationToken);
                session._machinery = machinery;
                return session;
            }
            catch
            {
                await machinery.DisposeAsync();
                throw;
            }
        }

        var append = options.Append ?? "quiet panic=-1";
        if (options.WaitMarker is not null && !append.Contains("nitro.wait", StringComparison.Ordinal))
        {
            append += " nitro.wait";
        }

        var machine = await QemuMachine.StartAsync(
            new QemuOptions { Kernel = options.Kernel, Initrd = options.Initrd, Append = append, MemoryMiB = options.MemoryMiB, Vcpus = options.Vcpus },
            cancellationToken);
        return await AttachAsync(machine, options, cancellationToken);
    }

    /// <summary>Reads the profile of a running machine and connects the listener; disposes the machine on failure.</summary>
    private static async Task<LiveLinuxSession> AttachAsync(QemuMachine machine, LiveSessionOptions options, CancellationToken cancellationToken)
    {
        SharedMemoryGuestMemory? memory = null;
        try
        {
            var waiting = false;
            if (options.WaitMarker is not null)
            {
                await machine.WaitForConsoleAsync(options.WaitMarker, options.BootTimeout, cancellationToken);
                waiting = true;
            }

            memory = machine.OpenMemory();
            var clock = Stopwatch.StartNew();
            var (profile, backend) = await BuildProfileAsync(machine, memory, waiting ? TimeSpan.Zero : options.BootTimeout, cancellationToken);
            var profileTime = clock.Elapsed;
            var listener = await GdbStubListener.ConnectAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(10), cancellationToken);
            return new LiveLinuxSession(machine, memory, profile, backend, listener, waiting, profileTime);
        }
        catch
        {
            memory?.Dispose();
            await machine.DisposeAsync();
            throw;
        }
    }

    /// <summary>The decoded calls of the guest: every call, or only the named ones.</summary>
    public IObservable<Syscall> Syscalls(IReadOnlyCollection<string>? names) =>
        Observable.Defer(() => Backend.Process(Listener.Listen(Backend.CreatePlan(names))));

    /// <summary>Lets a guest that waits (nitro.wait) start its workload.</summary>
    public async Task ReleaseWorkloadAsync()
    {
        if (GuestIsWaiting && !_released)
        {
            _released = true;
            await Machine.SendConsoleLineAsync(string.Empty);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Listener.DisposeAsync();
        _memory.Dispose();
        await Machine.DisposeAsync();
        if (_machinery is not null)
        {
            await _machinery.DisposeAsync();
        }
    }

    /// <summary>
    /// Reads the profile while the guest is paused and plans the traps; without a marker, polls
    /// until the kernel is far enough in its boot (relocated, alternatives applied) for both.
    /// </summary>
    private static async Task<(LinuxKernelProfile Profile, LinuxBackend Backend)> BuildProfileAsync(QemuMachine machine, SharedMemoryGuestMemory memory, TimeSpan pollFor, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + pollFor;
        while (true)
        {
            await machine.Qmp.StopAsync(cancellationToken);
            try
            {
                var profile = LinuxKernelProfile.LoadOrBuild(memory, cancellationToken: cancellationToken);
                var backend = new LinuxBackend(memory, profile);

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
                await machine.Qmp.ContinueAsync(cancellationToken);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }
}
