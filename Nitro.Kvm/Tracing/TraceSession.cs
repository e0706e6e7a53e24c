using System.Diagnostics;
using System.Reactive.Linq;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Targets;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Syscalls;

namespace Nitro.Kvm.Tracing;

/// <summary>
/// A live trace in a few lines: a guest (one this session starts under QEMU, or one a machinery
/// module started), its OS back end read from the guest's own memory, and a listener — the QEMU
/// trap plugin by default, the gdbstub where the plugin cannot be used — wired together.
/// <see cref="Syscalls"/> is the stream of decoded calls; disposal detaches and releases the guest.
/// </summary>
/// <example>
/// <code>
/// await using var session = await TraceSession.StartAsync(
///     new QemuOptions { Kernel = "vmlinuz", Initrd = "initrd.cpio.gz" }, LinuxBackendFactory.Default);
/// await session.Syscalls(["openat"]).WhereProcess("cat").ForEachAsync(Console.WriteLine);
/// </code>
/// </example>
public sealed class TraceSession : IAsyncDisposable
{
    private static readonly TimeSpan s_exitGrace = TimeSpan.FromSeconds(5);

    private readonly Func<ValueTask> _release;
    private readonly TraceSessionOptions _options;
    private int _workloadReleased;
    private int _disposed;

    private TraceSession(ITraceTarget target, Func<ValueTask> release, SyscallBackend backend, INitroListener listener, string? fallback, TraceSessionOptions options, TimeSpan profileTime)
    {
        Target = target;
        _release = release;
        Backend = backend;
        Listener = listener;
        ListenerFallbackReason = fallback;
        _options = options;
        ProfileTime = profileTime;
    }

    /// <summary>Gets the traced guest.</summary>
    public ITraceTarget Target { get; }

    /// <summary>Gets the OS back end (hooks, statistics, the profile it read).</summary>
    public SyscallBackend Backend { get; }

    /// <summary>Gets the listener: a <see cref="PluginListener"/> or a <see cref="GdbStubListener"/>.</summary>
    public INitroListener Listener { get; }

    /// <summary>Gets why the gdbstub is used although the plugin was preferred (<see cref="ListenerChoice.Auto"/>), or <see langword="null"/>.</summary>
    public string? ListenerFallbackReason { get; }

    /// <summary>Gets how long reading the guest's kernel and planning took.</summary>
    public TimeSpan ProfileTime { get; }

    /// <summary>
    /// Starts a QEMU guest and prepares to trace it: with the plugin, QEMU holds the first user-mode
    /// instruction until the first subscription's plan is set, so not even <c>/init</c>'s first call is
    /// missed; with the gdbstub, the session attaches once the kernel is up.
    /// </summary>
    /// <param name="qemu">The guest (not changed; the plugin is added to a copy).</param>
    /// <param name="os">Creates the back end from the guest's memory (<c>LinuxBackendFactory.Default</c>).</param>
    /// <param name="options">Listener and boot options; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">Cancels start-up (QEMU is then stopped).</param>
    /// <returns>The session; disposing it stops QEMU.</returns>
    /// <exception cref="QemuException">QEMU did not start.</exception>
    /// <exception cref="TrapPluginException"><see cref="ListenerChoice.Plugin"/> was asked for and the plugin cannot be used.</exception>
    /// <exception cref="TimeoutException">The guest did not boot far enough in <see cref="TraceSessionOptions.BootTimeout"/>.</exception>
    /// <exception cref="TraceSessionException">QEMU stopped before the session was ready (the message holds its last output).</exception>
    public static async Task<TraceSession> StartAsync(QemuOptions qemu, ISyscallBackendFactory os, TraceSessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(qemu);
        ArgumentNullException.ThrowIfNull(os);
        options ??= new TraceSessionOptions();
        var (launch, fallback) = ChoosePlugin(qemu, options.Listener);
        var machine = await QemuMachine.StartAsync(WithPlugin(qemu, launch), cancellationToken);
        return await AttachAsync(machine, os, options, machine.DisposeAsync, fallback, cancellationToken);
    }

    /// <summary>
    /// Prepares to trace a running guest, for example one a machinery module started
    /// (<see cref="ITraceableMachinery.OpenTraceTarget"/>). It uses the plugin when QEMU was started
    /// with it (<see cref="ITraceTarget.PluginControlPath"/>), else the gdbstub.
    /// </summary>
    /// <param name="target">The guest.</param>
    /// <param name="os">Creates the back end from the guest's memory.</param>
    /// <param name="options">Listener and boot options; <see langword="null"/> for the defaults.</param>
    /// <param name="release">Called once when the session ends or fails to start (stop the machine); <see langword="null"/> to leave the guest alone.</param>
    /// <param name="cancellationToken">Cancels the attach.</param>
    /// <returns>The session.</returns>
    /// <exception cref="TrapPluginException"><see cref="ListenerChoice.Plugin"/> was asked for and QEMU runs without the plugin.</exception>
    public static Task<TraceSession> AttachAsync(ITraceTarget target, ISyscallBackendFactory os, TraceSessionOptions? options = null, Func<ValueTask>? release = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(os);
        options ??= new TraceSessionOptions();
        string? fallback = null;
        if (target.PluginControlPath is null && options.Listener != ListenerChoice.GdbStub)
        {
            fallback = $"{target.Name} runs without the trap plugin (its QEMU has no -plugin).";
            if (options.Listener == ListenerChoice.Plugin)
            {
                throw new TrapPluginException(fallback);
            }
        }

        return AttachAsync(target, os, options, release ?? (() => ValueTask.CompletedTask), fallback, cancellationToken);
    }

    /// <summary>
    /// Gets the decoded calls of the guest: all, or the named ones only (filtered inside QEMU with the
    /// plugin, at their handlers with the gdbstub). Each subscription attaches the listener with a new
    /// plan and detaches on disposal. The stream completes when the guest powers off; it ends with an
    /// error when the listener's stream ends while the guest still runs, so a silent loss is never a success.
    /// </summary>
    /// <param name="names">Short names (<c>openat</c>), or <see langword="null"/> / empty for every call.</param>
    /// <returns>The calls.</returns>
    public IObservable<Syscall> Syscalls(IReadOnlyCollection<string>? names = null)
    {
        var planner = (ITrapPlanner)Backend;
        return Observable.Defer(() => Backend.Process(Listener.Listen(planner.CreatePlan(names, Listener.Style))))
            .Catch((IOException lost) => lost is GdbTargetLostException or TrapPluginException
                ? Observable.FromAsync(GuestEndedAsync).SelectMany(ended => ended ? Observable.Empty<Syscall>() : Observable.Throw<Syscall>(lost))
                : Observable.Throw<Syscall>(lost))
            .Concat(Observable.FromAsync(GuestEndedAsync).SelectMany(ended => ended
                ? Observable.Empty<Syscall>()
                : Observable.Throw<Syscall>(new TraceSessionException($"The listener's stream ended while {Target.Name} still runs: the rest of its calls would be lost."))));
    }

    /// <summary>Waits until the listener of the current (or next) subscription has set its traps.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the listener is attached.</returns>
    public Task WaitUntilAttachedAsync(CancellationToken cancellationToken = default) => Listener switch
    {
        PluginListener plugin => plugin.WaitUntilAttachedAsync(cancellationToken),
        GdbStubListener gdb => gdb.WaitUntilAttachedAsync(cancellationToken),
        _ => Task.CompletedTask,
    };

    /// <summary>
    /// Lets a guest whose workload waits for the tracer (<see cref="TraceSessionOptions.WaitMarker"/>)
    /// go on: waits for the marker, then types a newline on its console. Does nothing for other guests.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the workload was released.</returns>
    public async Task ReleaseWorkloadAsync(CancellationToken cancellationToken = default)
    {
        if (_options.WaitMarker is not { } marker || Interlocked.Exchange(ref _workloadReleased, 1) != 0)
        {
            return;
        }

        if (!_options.WaitMarkerSeen)
        {
            await Target.WaitForConsoleAsync(marker, _options.BootTimeout, cancellationToken);
        }

        await Target.SendConsoleLineAsync(string.Empty, cancellationToken);
    }

    /// <summary>Detaches the listener and releases the guest (stops the QEMU this session started).</summary>
    /// <returns>A task that completes when the guest is released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Listener.DisposeAsync();
        }
        finally
        {
            await _release();
        }
    }

    private static (TrapPluginLaunch? Launch, string? Fallback) ChoosePlugin(QemuOptions qemu, ListenerChoice choice)
    {
        if (choice == ListenerChoice.GdbStub)
        {
            return (null, null);
        }

        string reason;
        var kvm = qemu.Accelerator == QemuAccelerator.Kvm || (qemu.Accelerator == QemuAccelerator.Auto && KvmProbe.IsUsable());
        if (kvm)
        {
            reason = "QEMU runs TCG plugins only under TCG, and this guest runs under KVM.";
        }
        else if (TrapPlugin.TryEnsureBuilt(out var path, out var buildError))
        {
            return (new TrapPluginLaunch(path, HoldAtFirstUserInstruction: true, TimeSpan.FromSeconds(60)), null);
        }
        else
        {
            reason = buildError;
        }

        return choice == ListenerChoice.Plugin ? throw new TrapPluginException("The trap plugin cannot be used: " + reason) : (null, reason);
    }

    private static QemuOptions WithPlugin(QemuOptions qemu, TrapPluginLaunch? launch)
    {
        var copy = new QemuOptions
        {
            Kernel = qemu.Kernel,
            Initrd = qemu.Initrd,
            Append = qemu.Append,
            MemoryMiB = qemu.MemoryMiB,
            Vcpus = qemu.Vcpus,
            Accelerator = qemu.Accelerator,
            StartPaused = qemu.StartPaused,
            Name = qemu.Name,
            QemuPath = qemu.QemuPath,
            WorkDirectory = qemu.WorkDirectory,
            MemoryDirectory = qemu.MemoryDirectory,
            TrapPlugin = qemu.TrapPlugin ?? launch,
        };
        foreach (var argument in qemu.ExtraArguments)
        {
            copy.ExtraArguments.Add(argument);
        }

        return copy;
    }

    private static async Task<TraceSession> AttachAsync(ITraceTarget target, ISyscallBackendFactory os, TraceSessionOptions options, Func<ValueTask> release, string? fallback, CancellationToken cancellationToken)
    {
        INitroListener? listener = null;
        try
        {
            var clock = Stopwatch.StartNew();
            SyscallBackend backend;
            if (target.PluginControlPath is { } control && options.Listener != ListenerChoice.GdbStub)
            {
                var pluginOptions = options.Plugin.NudgeGuest is null
                    ? options.Plugin with { NudgeGuest = async ct => { await target.PauseAsync(ct); await target.ResumeAsync(ct); } }
                    : options.Plugin;
                var plugin = await PluginListener.ConnectAsync(control, target.Memory, pluginOptions, TimeSpan.FromSeconds(30), cancellationToken);
                listener = plugin;

                // A held vCPU cannot be paused through QMP (it is inside the plugin), and need not be.
                var held = await plugin.WaitForFirstUserInstructionAsync(options.BootTimeout, cancellationToken);
                clock.Restart();
                backend = await CreateBackendAsync(target, os, pause: !held, held ? TimeSpan.Zero : options.BootTimeout, cancellationToken);
            }
            else
            {
                var gdb = target.GdbSocketPath ?? throw new TraceSessionException(target.PluginControlPath is null
                    ? $"{target.Name} has neither the trap plugin nor a gdbstub: it cannot be traced."
                    : $"{target.Name} opens no gdbstub, so it can only be traced with the trap plugin (ListenerChoice.Auto or Plugin).");
                var waiting = false;
                if (options.WaitMarker is { } marker && !options.WaitMarkerSeen)
                {
                    await target.WaitForConsoleAsync(marker, options.BootTimeout, cancellationToken);
                    waiting = true;
                }

                clock.Restart();
                backend = await CreateBackendAsync(target, os, pause: true, waiting || options.WaitMarkerSeen ? TimeSpan.Zero : options.BootTimeout, cancellationToken);
                listener = await GdbStubListener.ConnectAsync(gdb, TimeSpan.FromSeconds(10), cancellationToken);
            }

            return new TraceSession(target, release, backend, listener, fallback, options, clock.Elapsed);
        }
        catch (Exception ex)
        {
            var ended = target.HasExited && ex is not OperationCanceledException
                ? new TraceSessionException($"{target.Name} stopped while the session attached ({ex.Message}). {(target is QemuMachine machine ? machine.DescribeEnd() : string.Empty)}", ex)
                : null;
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            await release();
            if (ended is not null)
            {
                throw ended;
            }

            throw;
        }
    }

    /// <summary>Creates the back end, polling while the kernel is not far enough in its boot.</summary>
    private static async Task<SyscallBackend> CreateBackendAsync(ITraceTarget target, ISyscallBackendFactory os, bool pause, TimeSpan pollFor, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (pause)
            {
                await target.PauseAsync(cancellationToken);
            }

            string? notReady;
            try
            {
                if (os.TryCreate(target.Memory, out var backend, out notReady, cancellationToken))
                {
                    return backend is ITrapPlanner
                        ? backend
                        : throw new InvalidOperationException($"The {os.Name} back end {backend.GetType().Name} cannot plan traps (it is no ITrapPlanner).");
                }
            }
            finally
            {
                if (pause)
                {
                    await target.ResumeAsync(cancellationToken);
                }
            }

            if (deadline.Elapsed >= pollFor)
            {
                throw new TimeoutException($"{target.Name} could not be traced as a {os.Name} guest within {pollFor.TotalSeconds:0.#} s: {notReady}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }

    /// <summary>Whether the guest has stopped, waiting briefly for its QEMU to finish going away.</summary>
    private async Task<bool> GuestEndedAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!Target.HasExited && clock.Elapsed < s_exitGrace)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return Target.HasExited;
    }
}

/// <summary>A live trace ended in a way that would lose calls (the listener stopped while the guest runs on).</summary>
public sealed class TraceSessionException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What ended and why it matters.</param>
    public TraceSessionException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What ended and why it matters.</param>
    /// <param name="innerException">The failure that revealed it.</param>
    public TraceSessionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
