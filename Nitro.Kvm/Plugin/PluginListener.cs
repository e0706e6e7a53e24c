using System.Diagnostics;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Plugin;

/// <summary>
/// Traps system calls of a guest under stock QEMU (TCG) through the Nitro trap plugin
/// (<see cref="TrapPlugin"/>): the plugin calls back on the plan's kernel addresses only, with no
/// translation-cache flush, filters the requested call numbers inside QEMU, and hands each trap to
/// one host thread per vCPU — Nitro's per-vCPU listener design — through a shared control file.
/// </summary>
/// <remarks>
/// <para>
/// The plugin reads no registers (QEMU 7.2's plugin API has none), so plans come from
/// <see cref="ITrapPlanner.CreatePlan(IReadOnlyCollection{string}?, TrapStyle)"/> with
/// <see cref="TrapStyle.Callback"/>: the OS back end says where the kernel saved the thread's user
/// registers and how to find the current task and its page tables. Each event's registers are that
/// saved frame, its <see cref="NitroEvent.Context"/> says where it trapped, and in synchronous mode
/// its handle reads and writes the frame while the vCPU waits.
/// </para>
/// <para>
/// Events of different vCPUs are serialized for the observer (the Rx grammar); a vCPU that traps
/// while another's event is observed waits. The guest never waits on this host for longer than
/// <see cref="PluginListenerOptions.HostTimeout"/>: then, or when this process dies, the plugin lets
/// the guest run on untraced; the stream then ends with a <see cref="TrapPluginException"/>.
/// Detaching leaves the plugin's callbacks returning at once, so the guest runs without traps.
/// </para>
/// </remarks>
public sealed class PluginListener : INitroListener
{
    private static readonly TimeSpan s_waitSlice = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan s_detachTimeout = TimeSpan.FromSeconds(15);

    private readonly PluginControlFile _control;
    private readonly IGuestMemory _memory;
    private readonly Lock _gate = new();
    private Session? _session;
    private PluginListenerStatistics _last;
    private PluginListenerStatistics? _final;
    private TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;
    private long _nudges;

    private PluginListener(PluginControlFile control, IGuestMemory memory, PluginListenerOptions options)
    {
        _control = control;
        _memory = memory;
        Options = options;
        VcpuCount = control.VcpuCount;
    }

    /// <summary>Gets the options.</summary>
    public PluginListenerOptions Options { get; }

    /// <inheritdoc />
    public TrapStyle Style => TrapStyle.Callback;

    /// <summary>Gets the number of vCPUs of the guest (one host thread each while attached).</summary>
    public int VcpuCount { get; }

    /// <summary>Gets a value indicating whether a subscription is attached (it ends on disposal, an error or the guest's exit).</summary>
    public bool IsAttached
    {
        get
        {
            lock (_gate)
            {
                return _session is not null;
            }
        }
    }

    /// <summary>Gets the control file.</summary>
    public string ControlPath => _control.Path;

    /// <summary>Gets the counters of the plugin (summed over vCPUs) and of this host; after disposal, those it had then.</summary>
    public PluginListenerStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                // The plugin's counters go on while no host is attached (unattended, lost): read them
                // live while the control file is mapped.
                return _final ?? Snapshot(_session);
            }
        }
    }

    /// <summary>Opens the control file a QEMU started with the trap plugin creates, waiting until the plugin has initialized it.</summary>
    /// <param name="controlPath">The plugin's <c>ctl=</c> file.</param>
    /// <param name="memory">
    /// The guest's physical memory: the RAM file the plugin also maps (<c>ram=</c>), or, for a plugin
    /// started without one (a libvirt domain's anonymous RAM), the QEMU process's own memory
    /// (<see cref="Memory.ProcessMemoryGuestMemory"/>), whose address the listener gives the plugin.
    /// </param>
    /// <param name="options">Options; <see langword="null"/> for the defaults.</param>
    /// <param name="timeout">How long to wait for the file.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The listener.</returns>
    /// <exception cref="TrapPluginException">No plugin created the file in time, or it speaks another protocol version.</exception>
    /// <exception cref="ArgumentException">The plugin has no RAM file and <paramref name="memory"/> is not its QEMU process's memory.</exception>
    public static async Task<PluginListener> ConnectAsync(string controlPath, IGuestMemory memory, PluginListenerOptions? options, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(controlPath);
        ArgumentNullException.ThrowIfNull(memory);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var control = PluginControlFile.Open(controlPath);
                try
                {
                    GiveRamLocation(control, memory);
                }
                catch
                {
                    control.Dispose();
                    throw;
                }

                return new PluginListener(control, memory, options ?? new PluginListenerOptions());
            }
            catch (Exception ex) when (ex is FileNotFoundException or TrapPluginException && deadline.Elapsed < timeout)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
            catch (FileNotFoundException ex)
            {
                throw new TrapPluginException($"No trap plugin created {controlPath} within {timeout.TotalSeconds:0.#} s: is QEMU running with -plugin {TrapPlugin.FileName},ctl={controlPath}?", ex);
            }
        }
    }

    /// <summary>A plugin without a RAM file reads guest RAM in its own process, where the host found it.</summary>
    private static void GiveRamLocation(PluginControlFile control, IGuestMemory memory)
    {
        if (control.PluginHasRamFile)
        {
            return;
        }

        if (memory is not Memory.ProcessMemoryGuestMemory own || own.Pid != control.PluginPid)
        {
            throw new ArgumentException(
                $"The trap plugin of {control.Path} (QEMU pid {control.PluginPid}) was started without ram=PATH, so it reads guest RAM in its own process, " +
                $"but the guest memory given ({memory.GetType().Name}) is not that process's: open it with ProcessMemoryGuestMemory for pid {control.PluginPid}, or start QEMU with a shared RAM file and ram=.", nameof(memory));
        }

        control.PublishRamLocation(own.HostAddress, own.Layout);
    }

    /// <summary>
    /// Waits until the plugin holds the first vCPU that reached user mode (QEMU started with the
    /// plugin's <c>hold=on</c>): the kernel has booted and not one user-mode system call has run.
    /// </summary>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when a vCPU is held now; <see langword="false"/> when the plugin does not hold (or no longer does).</returns>
    public async Task<bool> WaitForFirstUserInstructionAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            switch ((int)Volatile.Read(ref _control.U32(PluginProtocol.Header.HoldState)))
            {
                case PluginProtocol.HoldWaiting:
                    return true;
                case PluginProtocol.HoldArmed when !_control.PluginExited:
                    await Task.Delay(TimeSpan.FromMilliseconds(10), cancellationToken);
                    break;
                default:
                    return false;
            }
        }

        throw new TimeoutException($"The guest did not reach user mode within {timeout.TotalSeconds:0.#} s (the trap plugin still waits for its first user-mode instruction).");
    }

    /// <summary>Waits until the current (or next) subscription's plan is instrumented by the plugin.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the listener is attached.</returns>
    public Task WaitUntilAttachedAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return _attached.Task.WaitAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The plan is not a <see cref="TrapStyle.Callback"/> plan with <see cref="TrapPlan.Frames"/>, or has too many points.</exception>
    public IObservable<NitroEvent> Listen(TrapPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Style != TrapStyle.Callback || plan.Frames is null)
        {
            throw new ArgumentException("The trap plugin needs a callback plan (CreatePlan(names, TrapStyle.Callback)) that says where the saved user frames are.", nameof(plan));
        }

        if (plan.EntryPoints.Count + plan.ExitPoints.Count is 0 or > PluginProtocol.MaxPoints)
        {
            throw new ArgumentException($"The trap plugin traps 1 to {PluginProtocol.MaxPoints} addresses; this plan has {plan.EntryPoints.Count + plan.ExitPoints.Count}.", nameof(plan));
        }

        return Observable.Create<NitroEvent>(observer =>
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            Session session;
            lock (_gate)
            {
                if (_session is not null)
                {
                    throw new InvalidOperationException("This listener is already attached; dispose the other subscription first.");
                }

                session = _session = new Session(this, plan, plan.Frames, observer);
            }

            session.Start();
            return Disposable.Create(session.RequestDetach);
        });
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        Session? session;
        lock (_gate)
        {
            session = _session;
        }

        // The mapping is unmapped only once no session thread can touch it any more; a session that
        // did not finish in time (an observer that never returns) keeps it mapped rather than crash.
        if (session is null || session.RequestDetachAndWait())
        {
            lock (_gate)
            {
                // Read once more while mapped: a reader of Statistics after disposal (a summary line)
                // must not touch the unmapped file.
                _final = Snapshot(null);
                _control.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    private PluginListenerStatistics Snapshot(Session? session)
    {
        long Sum(int field)
        {
            long total = 0;
            for (var vcpu = 0; vcpu < VcpuCount; vcpu++)
            {
                total += (long)Volatile.Read(ref _control.U64(PluginControlFile.VcpuOffset(vcpu, field)));
            }

            return total;
        }

        return new PluginListenerStatistics(
            Sum(PluginProtocol.Vcpu.Traps),
            Sum(PluginProtocol.Vcpu.Forwarded),
            Sum(PluginProtocol.Vcpu.Filtered),
            Sum(PluginProtocol.Vcpu.Lost),
            Sum(PluginProtocol.Vcpu.Unattended),
            Sum(PluginProtocol.Vcpu.FutexWaits),
            Sum(PluginProtocol.Vcpu.RingWaits),
            (long)Volatile.Read(ref _control.U64(PluginProtocol.Header.Resets)),
            (long)Volatile.Read(ref _control.U64(PluginProtocol.Header.HostLost)),
            (long)Volatile.Read(ref _control.U64(PluginProtocol.Header.MemoryErrors)),
            session?.Events ?? _last.Events,
            session?.ObserverTime ?? _last.ObserverTime,
            Interlocked.Read(ref _nudges));
    }

    private void Ended(Session session)
    {
        lock (_gate)
        {
            _last = Snapshot(session);
            if (_attached.Task.IsCompleted)
            {
                _attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            if (ReferenceEquals(_session, session))
            {
                _session = null;
            }
        }
    }

    /// <summary>One attachment: the plan written, one thread per vCPU answering its traps.</summary>
    private sealed class Session
    {
        private readonly PluginListener _owner;
        private readonly TrapPlan _plan;
        private readonly SavedFrameLocator _frames;
        private readonly IObserver<NitroEvent> _observer;
        private readonly Lock _observerGate = new();
        private readonly CancellationTokenSource _detach = new();
        private readonly List<Thread> _threads = [];
        private readonly ManualResetEventSlim _finished = new();
        private int _running;
        private int _terminated;
        private long _events;
        private long _observerTicks;
        private uint _generation;
        private uint _epoch;
        private Task _planWait = Task.CompletedTask;

        public Session(PluginListener owner, TrapPlan plan, SavedFrameLocator frames, IObserver<NitroEvent> observer)
        {
            _owner = owner;
            _plan = plan;
            _frames = frames;
            _observer = observer;
        }

        public long Events => Interlocked.Read(ref _events);

        public TimeSpan ObserverTime => TimeSpan.FromTicks(Interlocked.Read(ref _observerTicks));

        private PluginControlFile Control => _owner._control;

        private bool Streaming => _owner.Options.Mode == PluginDeliveryMode.Streaming;

        public void Start()
        {
            var control = Control;
            if (control.PluginExited)
            {
                _owner.Ended(this);
                _observer.OnCompleted();
                return;
            }

            control.U32(PluginProtocol.Header.HostPid) = (uint)Environment.ProcessId;
            control.U32(PluginProtocol.Header.Mode) = (uint)(Streaming ? PluginProtocol.ModeStream : PluginProtocol.ModeSync);
            control.U32(PluginProtocol.Header.TimeoutMs) = (uint)Math.Clamp(_owner.Options.HostTimeout.TotalMilliseconds, 1, int.MaxValue);
            control.U32(PluginProtocol.Header.Spin) = (uint)Math.Max(_owner.Options.PluginSpin, 0);
            for (var vcpu = 0; vcpu < control.VcpuCount; vcpu++)
            {
                // Whatever an earlier host left unanswered is answered now; the ring starts empty.
                Volatile.Write(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Answer)), Volatile.Read(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Request))));
                Volatile.Write(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Tail)), Volatile.Read(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Head))));
            }

            _epoch = Interlocked.Increment(ref control.U32(PluginProtocol.Header.AttachEpoch));
            Volatile.Write(ref control.U32(PluginProtocol.Header.Attached), 1);
            _generation = control.WritePlan(_plan, _frames);
            _running = control.VcpuCount;
            for (var vcpu = 0; vcpu < control.VcpuCount; vcpu++)
            {
                var index = vcpu;
                var thread = new Thread(() => Run(index)) { IsBackground = true, Name = $"nitro-plugin-vcpu{index}" };
                _threads.Add(thread);
            }

            foreach (var thread in _threads)
            {
                thread.Start();
            }

            _planWait = WaitForPlanAsync();
        }

        /// <summary>Detaches and waits for the session's threads; false when they did not finish in time (or this is one of them).</summary>
        public bool RequestDetachAndWait()
        {
            RequestDetach();
            return _finished.Wait(s_detachTimeout) && Task.WhenAny(_planWait, Task.Delay(s_detachTimeout)).GetAwaiter().GetResult() == _planWait;
        }

        public void RequestDetach()
        {
            if (!_detach.IsCancellationRequested)
            {
                _detach.Cancel();
                ReleaseGuest();
            }

            if (!_threads.Contains(Thread.CurrentThread))
            {
                _finished.Wait(s_detachTimeout);
            }
        }

        /// <summary>Stops the plugin from waiting on this host and lets every waiting vCPU go.</summary>
        private unsafe void ReleaseGuest()
        {
            var control = Control;
            if (Volatile.Read(ref control.U32(PluginProtocol.Header.AttachEpoch)) != _epoch)
            {
                return; // another host has attached since: the guest is its to answer
            }

            Volatile.Write(ref control.U32(PluginProtocol.Header.Attached), 0);
            Interop.Futex.Wake(control.U32Pointer(PluginProtocol.Header.Attached));
            for (var vcpu = 0; vcpu < control.VcpuCount; vcpu++)
            {
                var answer = PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Answer);
                Volatile.Write(ref control.U32(answer), Volatile.Read(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Request))));
                Interop.Futex.Wake(control.U32Pointer(answer));
                var tail = PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Tail);
                Volatile.Write(ref control.U32(tail), Volatile.Read(ref control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Head))));
                Interop.Futex.Wake(control.U32Pointer(tail));
            }
        }

        private async Task WaitForPlanAsync()
        {
            var deadline = Stopwatch.StartNew();
            var nudgeAt = _owner.Options.NudgeAfter;
            Exception? nudgeError = null;
            while (!_detach.IsCancellationRequested && Volatile.Read(ref _terminated) == 0 && Volatile.Read(ref _owner._disposed) == 0)
            {
                if (Volatile.Read(ref Control.U32(PluginProtocol.Header.AppliedGeneration)) == _generation)
                {
                    lock (_owner._gate)
                    {
                        _owner._attached.TrySetResult();
                    }

                    return;
                }

                if (deadline.Elapsed > _owner.Options.PlanTimeout)
                {
                    var message = $"The trap plugin did not take the plan within {_owner.Options.PlanTimeout.TotalSeconds:0.#} s. It takes a plan when a vCPU next translates code, idles or traps; " +
                        (_owner.Options.NudgeGuest is null
                            ? "a guest that does none of these cannot be attached to without PluginListenerOptions.NudgeGuest (pause and resume it)."
                            : $"pausing and resuming the guest did not make it do so{(nudgeError is null ? "." : $" ({nudgeError.Message}).")}");
                    Fail(nudgeError is null ? new TrapPluginException(message) : new TrapPluginException(message, nudgeError));
                    return;
                }

                if (deadline.Elapsed > nudgeAt && _owner.Options.NudgeGuest is { } nudge)
                {
                    nudgeAt = deadline.Elapsed + _owner.Options.NudgeAfter;
                    nudgeError = await NudgeAsync(nudge).ConfigureAwait(false) ?? nudgeError;
                    continue;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(2)).ConfigureAwait(false);
            }
        }

        /// <summary>Makes the guest's vCPUs call into the plugin; a failure is kept for the timeout's message (the guest may be going away).</summary>
        private async Task<Exception?> NudgeAsync(Func<CancellationToken, Task> nudge)
        {
            Interlocked.Increment(ref _owner._nudges);
            try
            {
                await nudge(_detach.Token).ConfigureAwait(false);
                return null;
            }
            catch (OperationCanceledException) when (_detach.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return ex;
            }
        }

        private void Run(int vcpu)
        {
            Exception? error = null;
            var completed = false;
            try
            {
                completed = Streaming ? StreamLoop(vcpu) : SyncLoop(vcpu);
            }
            catch (Exception ex)
            {
                error = ex;
            }

            if (error is not null)
            {
                Fail(error);
            }

            if (Interlocked.Decrement(ref _running) == 0)
            {
                Finish(completed && error is null);
            }
        }

        private void Finish(bool completed)
        {
            if (!_detach.IsCancellationRequested)
            {
                ReleaseGuest();
            }

            _owner.Ended(this);
            if (completed && Interlocked.Exchange(ref _terminated, 1) == 0)
            {
                lock (_observerGate)
                {
                    _observer.OnCompleted();
                }
            }

            _finished.Set();
        }

        private void Fail(Exception error)
        {
            if (Interlocked.Exchange(ref _terminated, 1) != 0)
            {
                return;
            }

            _detach.Cancel();
            ReleaseGuest();
            if (error is not OperationCanceledException)
            {
                lock (_observerGate)
                {
                    _observer.OnError(error);
                }
            }
        }

        /// <returns><see langword="true"/> when the guest went away (QEMU exited).</returns>
        private unsafe bool SyncLoop(int vcpu)
        {
            var control = Control;
            var request = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Request));
            var answerOffset = PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Answer);
            var hostWaiting = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.HostWaiting));
            var cpuWaiting = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.CpuWaiting));
            var answered = Volatile.Read(ref control.U32(answerOffset));
            var cache = new TranslationCache();
            while (!_detach.IsCancellationRequested)
            {
                if (!WaitForChange(request, answered, hostWaiting, out var exited))
                {
                    return exited;
                }

                var current = Volatile.Read(ref *request);
                Deliver(vcpu, ReadSlot(vcpu), cache, deferred: false);
                Volatile.Write(ref control.U32(answerOffset), current);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref *cpuWaiting) != 0)
                {
                    Interop.Futex.Wake(control.U32Pointer(answerOffset));
                }

                answered = current;
                ThrowIfHostWasGivenUp();
            }

            return false;
        }

        private unsafe bool StreamLoop(int vcpu)
        {
            var control = Control;
            var head = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Head));
            var tailOffset = PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Tail);
            var hostWaiting = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.RingHostWaiting));
            var cpuWaiting = control.U32Pointer(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.RingCpuWaiting));
            var tail = Volatile.Read(ref control.U32(tailOffset));
            var cache = new TranslationCache();
            while (!_detach.IsCancellationRequested)
            {
                // Records left in the ring after a detach keep head != tail: the detach check above ends the loop.
                if (!WaitForChange(head, tail, hostWaiting, out var exited))
                {
                    return exited;
                }

                var end = Volatile.Read(ref *head);
                while (tail != end && !_detach.IsCancellationRequested)
                {
                    Deliver(vcpu, ReadRecord(vcpu, tail), cache, deferred: true);
                    tail++;
                    Volatile.Write(ref control.U32(tailOffset), tail);
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref *cpuWaiting) != 0)
                    {
                        Interop.Futex.Wake(control.U32Pointer(tailOffset));
                    }
                }

                ThrowIfHostWasGivenUp();
            }

            return false;
        }

        /// <summary>Waits until <c>*word != value</c>; false when the session ends (detach, or the guest went away: <paramref name="exited"/>).</summary>
        private unsafe bool WaitForChange(uint* word, uint value, uint* waitingFlag, out bool exited)
        {
            exited = false;
            var spin = _owner.Options.HostSpin;
            for (var i = 0; i < spin; i++)
            {
                if (Volatile.Read(ref *word) != value)
                {
                    return true;
                }

                Thread.SpinWait(1);
            }

            while (Volatile.Read(ref *word) == value)
            {
                if (_detach.IsCancellationRequested)
                {
                    return false;
                }

                if (Control.PluginExited)
                {
                    exited = true;
                    return false;
                }

                Volatile.Write(ref *waitingFlag, 1);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref *word) == value)
                {
                    Interop.Futex.Wait(word, value, s_waitSlice);
                }

                Volatile.Write(ref *waitingFlag, 0);
                if (Volatile.Read(ref *word) == value && !Interop.Futex.ProcessExists(Control.PluginPid) && !Control.PluginExited)
                {
                    throw new TrapPluginException($"QEMU (pid {Control.PluginPid}) went away without shutting the guest down; the trace ends here.");
                }
            }

            return true;
        }

        private void ThrowIfHostWasGivenUp()
        {
            if (!_detach.IsCancellationRequested && Volatile.Read(ref Control.U32(PluginProtocol.Header.Attached)) == 0 && !Control.PluginExited)
            {
                throw new TrapPluginException(
                    $"The trap plugin stopped waiting for this host (no answer within {_owner.Options.HostTimeout.TotalSeconds:0.#} s); events were lost ({Snapshot().Lost} counted by the plugin) and the guest runs on untraced.");
            }
        }

        private PluginListenerStatistics Snapshot() => _owner.Snapshot(this);

        private Trap ReadSlot(int vcpu)
        {
            var control = Control;
            return new Trap(
                control.U64(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Address)),
                control.U32(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Flags)),
                control.U64(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Timestamp)),
                control.U64(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.FrameVa)),
                control.U64(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.Task)),
                control.U64(PluginControlFile.VcpuOffset(vcpu, PluginProtocol.Vcpu.PerVcpuBase)),
                default);
        }

        private Trap ReadRecord(int vcpu, uint slot)
        {
            var control = Control;
            var flags = control.U32(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.Flags));
            var frame = (flags & PluginProtocol.TrapFrameCopied) != 0
                ? control.Bytes(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.Frame), _frames.Layout.Size).ToArray()
                : null;
            return new Trap(
                control.U64(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.Address)),
                flags,
                control.U64(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.Timestamp)),
                control.U64(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.FrameVa)),
                control.U64(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.Task)),
                control.U64(PluginControlFile.RecordOffset(vcpu, slot, PluginProtocol.Record.PerVcpuBase)),
                frame);
        }

        private void Deliver(int vcpu, in Trap trap, TranslationCache cache, bool deferred)
        {
            var point = _plan.Find(trap.Address);
            if (point is null || _detach.IsCancellationRequested)
            {
                return; // an address of an earlier plan, still being re-translated
            }

            cache.Invalidate();
            var kernel = new X86AddressSpace(_owner._memory, _frames.KernelPageTableRoot, PagingMode.FourLevel, cache);
            var direction = point.Direction;
            var registers = default(Registers);
            var frameAddress = (trap.Flags & PluginProtocol.TrapFrame) != 0 ? trap.FrameAddress : 0;
            if (trap.Frame is { } copied)
            {
                registers = _frames.Layout.Read(copied, direction);
            }
            else if (frameAddress != 0)
            {
                Span<byte> bytes = stackalloc byte[_frames.Layout.Size];
                if (kernel.ReadPartial(frameAddress, bytes) == bytes.Length)
                {
                    registers = _frames.Layout.Read(bytes, direction);
                }
                else
                {
                    frameAddress = 0; // the frame pointer led nowhere readable: the back end reports an undecodable call
                }
            }

            var task = (trap.Flags & PluginProtocol.TrapTask) != 0 ? trap.Task : 0;
            var special = default(SpecialRegisters);
            special.Cr3 = task != 0 && _frames.AddressSpace.TryFollow(kernel, task, out var root) && root >= _frames.AddressSpaceBias
                ? root - _frames.AddressSpaceBias
                : _frames.KernelPageTableRoot;
            var context = new TrapContext(point.Address, frameAddress, task, trap.VcpuBase, deferred);
            var start = Stopwatch.GetTimestamp();
            if (deferred || frameAddress == 0)
            {
                var e = new NitroEvent(vcpu, direction, point.Mechanism, registers, special, (long)trap.Timestamp) { Context = context };
                Observe(e);
            }
            else
            {
                using var pause = VcpuHandle.PauseAtSavedFrame(vcpu, new SavedUserFrame(kernel, frameAddress, _frames.Layout, direction, special), frameAddress);
                Observe(new NitroEvent(vcpu, direction, point.Mechanism, registers, special, (long)trap.Timestamp, pause.Handle) { Context = context });
            }

            Interlocked.Add(ref _observerTicks, Stopwatch.GetElapsedTime(start).Ticks);
        }

        private void Observe(NitroEvent e)
        {
            lock (_observerGate)
            {
                if (Volatile.Read(ref _terminated) != 0 || _detach.IsCancellationRequested)
                {
                    return;
                }

                Interlocked.Increment(ref _events);
                _observer.OnNext(e);
            }
        }

        private readonly record struct Trap(ulong Address, uint Flags, ulong Timestamp, ulong FrameAddress, ulong Task, ulong VcpuBase, byte[]? Frame);
    }
}

/// <summary>Counters of the trap plugin (summed over vCPUs) and of the host side of a <see cref="PluginListener"/>.</summary>
/// <param name="Traps">Callbacks at plan addresses.</param>
/// <param name="Forwarded">Traps handed to the host (requested calls, or all when unfiltered).</param>
/// <param name="Filtered">Traps the plugin filtered out by call number without waking the host.</param>
/// <param name="Lost">Traps the plugin gave up on because the host did not answer in time or was gone.</param>
/// <param name="Unattended">Traps while no host was attached (the vCPU went on at once).</param>
/// <param name="FutexWaits">Times a vCPU slept on a futex waiting for the host.</param>
/// <param name="RingWaits">Times a vCPU found its streaming ring full (back-pressure).</param>
/// <param name="Resets">Re-translations the plugin requested for a new plan.</param>
/// <param name="HostLost">Times the plugin stopped waiting for a host.</param>
/// <param name="MemoryErrors">Traps whose frame or task the plugin could not read from guest RAM.</param>
/// <param name="Events">Events delivered to observers by this host.</param>
/// <param name="ObserverTime">Time spent building events and in observers.</param>
/// <param name="Nudges">Times this listener paused and resumed the guest so that the plugin took a waiting plan (<see cref="PluginListenerOptions.NudgeGuest"/>).</param>
public readonly record struct PluginListenerStatistics(
    long Traps,
    long Forwarded,
    long Filtered,
    long Lost,
    long Unattended,
    long FutexWaits,
    long RingWaits,
    long Resets,
    long HostLost,
    long MemoryErrors,
    long Events,
    TimeSpan ObserverTime,
    long Nudges);
