using System.Diagnostics;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using Nitro.Kvm.GdbStub;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Kvm.Listening;

/// <summary>
/// Traps system calls of a guest running under stock QEMU through its gdbstub: software
/// breakpoints on the addresses of a <see cref="TrapPlan"/>, and emulation of the trapped
/// instruction (<c>swapgs</c>, or a no-op) so the guest is never single-stepped. The stub stops
/// every vCPU on a trap (all-stop), so one session thread serves all vCPUs and tags each event with
/// the vCPU that hit. Observers run on that thread while the guest is stopped.
/// Detaching — disposal, an observer's exception, a lost socket — removes every breakpoint and
/// resumes the guest.
/// </summary>
/// <remarks>
/// A query that ends inside <c>OnNext</c> (<c>Take</c>, <c>First</c>) completes on the listener
/// thread, before the guest is resumed: code awaiting such a query continues there. Do not block
/// after that await without yielding first (<c>await Task.Yield()</c>), or complete your own task
/// with <c>TaskCreationOptions.RunContinuationsAsynchronously</c>.
/// The session starts on its own thread during <c>Subscribe</c>: if the query ends (<c>Take(1)</c>)
/// before <c>Subscribe</c> has returned, Rx disposes the subscription right after it returns; traps
/// hit meanwhile are stepped over correctly but reach no observer.
/// </remarks>
public sealed class GdbStubListener : INitroListener
{
    private static readonly TimeSpan s_detachTimeout = TimeSpan.FromSeconds(15);

    private readonly IGdbTarget _target;
    private readonly IAsyncDisposable? _ownedConnection;
    private readonly Lock _gate = new();
    private Session? _session;
    private GdbStubListenerStatistics _last;
    private TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal GdbStubListener(IGdbTarget target, IAsyncDisposable? ownedConnection = null)
    {
        _target = target;
        _ownedConnection = ownedConnection;
    }

    /// <summary>Creates a listener over an open gdbstub connection (the caller keeps ownership of it).</summary>
    /// <param name="client">The connection.</param>
    public GdbStubListener(GdbRemoteClient client)
        : this(new GdbClientTarget(client ?? throw new ArgumentNullException(nameof(client))))
    {
    }

    /// <summary>Connects to QEMU's gdbstub on a unix socket and creates a listener that owns the connection.</summary>
    /// <param name="socketPath">The gdbstub socket (<see cref="Qemu.QemuMachine.GdbSocketPath"/>).</param>
    /// <param name="timeout">How long to keep trying to connect.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The listener; disposing it closes the connection (QEMU then resumes the guest).</returns>
    /// <exception cref="GdbStubException">No gdbstub answered in time.</exception>
    public static async Task<GdbStubListener> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var client = await GdbRemoteClient.ConnectUnixAsync(socketPath, timeout, cancellationToken);
        return new GdbStubListener(new GdbClientTarget(client), client);
    }

    /// <summary>Gets the statistics of the current session, or of the last one when none runs.</summary>
    public GdbStubListenerStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                return _session?.Snapshot() ?? _last;
            }
        }
    }

    /// <summary>
    /// Waits until the current (or next) subscription has set its breakpoints and resumed the guest,
    /// for example before letting a workload start.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the listener is attached.</returns>
    public Task WaitUntilAttachedAsync(CancellationToken cancellationToken = default) =>
        _attached.Task.WaitAsync(cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The plan was made for a callback listener (the trap plugin).</exception>
    public IObservable<NitroEvent> Listen(TrapPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Style != TrapStyle.Breakpoint || plan.EntryPoints.Concat(plan.ExitPoints).Any(p => p.Emulation == TrapEmulation.Execute))
        {
            throw new ArgumentException("This plan was made for a callback listener (the trap plugin): a breakpoint at its points could not be stepped past. Make the plan with TrapStyle.Breakpoint.", nameof(plan));
        }

        return Observable.Create<NitroEvent>(observer =>
        {
            Session session;
            lock (_gate)
            {
                if (_session is not null)
                {
                    throw new InvalidOperationException("This listener is already attached; dispose the other subscription first.");
                }

                session = _session = new Session(this, plan, observer);
            }

            session.Start();
            return Disposable.Create(session.RequestDetach);
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Session? session;
        lock (_gate)
        {
            session = _session;
        }

        session?.RequestDetach();
        if (_ownedConnection is not null)
        {
            await _ownedConnection.DisposeAsync();
        }
    }

    private void Ended(Session session)
    {
        lock (_gate)
        {
            if (_attached.Task.IsCompleted)
            {
                _attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _last = session.Snapshot();
            if (ReferenceEquals(_session, session))
            {
                _session = null;
            }
        }
    }

    /// <summary>One attachment: a thread that loops stop → event → step past → continue.</summary>
    private sealed class Session
    {
        private readonly GdbStubListener _owner;
        private readonly TrapPlan _plan;
        private readonly IObserver<NitroEvent> _observer;
        private readonly HashSet<ulong> _inserted = [];
        private readonly CancellationTokenSource _detach = new();
        private readonly ManualResetEventSlim _finished = new();
        private readonly Stopwatch _clock = new();
        private Thread? _thread;
        private volatile bool _running;
        private bool _exitsArmed;
        private bool _cleaningUp;
        private long _traps;
        private long _otherStops;
        private long _exitArmings;
        private long _waitTicks;
        private long _readTicks;
        private long _observerTicks;
        private long _resumeTicks;

        public Session(GdbStubListener owner, TrapPlan plan, IObserver<NitroEvent> observer)
        {
            _owner = owner;
            _plan = plan;
            _observer = observer;
        }

        private IGdbTarget Target => _owner._target;

        public void Start()
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "nitro-gdbstub-listener" };
            _thread.Start();
        }

        public void RequestDetach()
        {
            if (_detach.IsCancellationRequested)
            {
                WaitIfOtherThread();
                return;
            }

            _detach.Cancel();
            Interlocked.MemoryBarrier();
            if (_running)
            {
                // The session thread is blocked waiting for a stop: make the guest stop.
                try
                {
                    Target.InterruptAsync().GetAwaiter().GetResult();
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or GdbTargetLostException)
                {
                    // The connection is gone; the session thread sees it too.
                }
            }

            WaitIfOtherThread();
        }

        public GdbStubListenerStatistics Snapshot() => new(
            Interlocked.Read(ref _traps),
            Interlocked.Read(ref _otherStops),
            TimeSpan.FromTicks(Interlocked.Read(ref _waitTicks)),
            TimeSpan.FromTicks(Interlocked.Read(ref _readTicks)),
            TimeSpan.FromTicks(Interlocked.Read(ref _observerTicks)),
            TimeSpan.FromTicks(Interlocked.Read(ref _resumeTicks)),
            Interlocked.Read(ref _exitArmings));

        private void WaitIfOtherThread()
        {
            if (Thread.CurrentThread != _thread)
            {
                _finished.Wait(s_detachTimeout);
            }
        }

        private void Run()
        {
            Exception? error = null;
            var completed = false;
            try
            {
                completed = Loop();
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                var cleanupError = Cleanup();
                error ??= cleanupError;
                _owner.Ended(this);
                _finished.Set();
            }

            if (_detach.IsCancellationRequested && error is null)
            {
                return;
            }

            if (error is not null)
            {
                _observer.OnError(error);
            }
            else if (completed)
            {
                _observer.OnCompleted();
            }
        }

        /// <returns><see langword="true"/> when the guest went away (the stream completes).</returns>
        private bool Loop()
        {
            Attach();
            while (!_detach.IsCancellationRequested)
            {
                var stop = WaitForStop();
                if (stop.Exited)
                {
                    return true;
                }

                if (_detach.IsCancellationRequested)
                {
                    return false;
                }

                var start = Stopwatch.GetTimestamp();
                var snapshot = Target.ReadRegistersAsync(stop.Vcpu).GetAwaiter().GetResult();
                Interlocked.Add(ref _readTicks, Stopwatch.GetElapsedTime(start).Ticks);

                var point = _plan.Find(snapshot.Registers.Rip);
                if (point is null || !_inserted.Contains(point.Address))
                {
                    // An interrupt, or a stop at a point disarmed meanwhile: nothing to report.
                    Interlocked.Increment(ref _otherStops);
                    Resume(stop.Vcpu, null, ref snapshot);
                    continue;
                }

                Interlocked.Increment(ref _traps);
                var vcpu = Math.Max(stop.Vcpu, 0);
                var access = new StubVcpuAccess(Target, vcpu, snapshot);
                using (var pause = VcpuHandle.Pause(vcpu, access))
                {
                    var e = new NitroEvent(vcpu, point.Direction, point.Mechanism, snapshot.Registers, snapshot.SpecialRegisters, MonotonicClock.Now, pause.Handle);
                    var beforeObservers = Stopwatch.GetTimestamp();
                    _observer.OnNext(e);
                    Interlocked.Add(ref _observerTicks, Stopwatch.GetElapsedTime(beforeObservers).Ticks);
                }

                if (_detach.IsCancellationRequested)
                {
                    return false;
                }

                if (access.Dirty)
                {
                    snapshot = Target.ReadRegistersAsync(vcpu).GetAwaiter().GetResult();
                }

                Resume(vcpu, point, ref snapshot);
            }

            return false;
        }

        private void Attach()
        {
            // The guest may be running (attached after an earlier detach): stop it before touching breakpoints.
            if (Target.IsRunning)
            {
                _running = true;
                Target.InterruptAsync().GetAwaiter().GetResult();
                if (WaitForStop().Exited)
                {
                    throw new GdbTargetLostException("The guest exited before the listener could attach.");
                }
            }

            foreach (var point in _plan.EntryPoints)
            {
                Insert(point.Address);
            }

            UpdateExitArming();
            Continue();
            lock (_owner._gate)
            {
                _owner._attached.TrySetResult();
            }
        }

        private GdbStop WaitForStop()
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                return Target.WaitForStopAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
            finally
            {
                _running = false;
                Interlocked.Add(ref _waitTicks, Stopwatch.GetElapsedTime(start).Ticks);
            }
        }

        private void Resume(int vcpu, TrapPoint? point, ref GdbRegisterSnapshot snapshot)
        {
            var start = Stopwatch.GetTimestamp();
            UpdateExitArming();

            // Still stopped on an armed breakpoint we own: step past it by emulation. If it was just
            // disarmed, or an observer moved RIP elsewhere, the guest executes the real instruction.
            if (point is not null && _inserted.Contains(point.Address) && snapshot.Registers.Rip == point.Address)
            {
                if (point.Emulation == TrapEmulation.SwapGs)
                {
                    Target.WriteRegisterAsync(vcpu, GdbRegister.GsBase, snapshot.KernelGsBase).GetAwaiter().GetResult();
                    Target.WriteRegisterAsync(vcpu, GdbRegister.KernelGsBase, snapshot.SpecialRegisters.Gs.Base).GetAwaiter().GetResult();
                }
                else if (point.Emulation is TrapEmulation.TestAlAl or TrapEmulation.TestEaxEax or TrapEmulation.Clac)
                {
                    Target.WriteRegisterAsync(vcpu, GdbRegister.Eflags, EmulatedFlags(point.Emulation, snapshot.Registers.Rflags, snapshot.Registers.Rax)).GetAwaiter().GetResult();
                }

                Target.WriteRegisterAsync(vcpu, GdbRegister.Rip, point.ResumeAddress).GetAwaiter().GetResult();
            }

            Continue();
            Interlocked.Add(ref _resumeTicks, Stopwatch.GetElapsedTime(start).Ticks);
        }

        private void UpdateExitArming()
        {
            var want = _plan.ExitGate is null || _plan.ExitGate.IsOpen;
            if (want == _exitsArmed || _plan.ExitPoints.Count == 0)
            {
                return;
            }

            foreach (var point in _plan.ExitPoints)
            {
                if (want)
                {
                    Insert(point.Address);
                }
                else
                {
                    Remove(point.Address);
                }
            }

            _exitsArmed = want;
            Interlocked.Increment(ref _exitArmings);
        }

        private void Insert(ulong address)
        {
            if (_inserted.Add(address))
            {
                Target.InsertBreakpointAsync(address).GetAwaiter().GetResult();
            }
        }

        private void Remove(ulong address)
        {
            if (_inserted.Remove(address))
            {
                Target.RemoveBreakpointAsync(address).GetAwaiter().GetResult();
            }
        }

        private void Continue()
        {
            _running = true;
            Interlocked.MemoryBarrier();
            Target.ContinueAsync().GetAwaiter().GetResult();
            if (_detach.IsCancellationRequested && !_cleaningUp)
            {
                // A detach raced with this resume and saw the guest stopped: stop it ourselves.
                Target.InterruptAsync().GetAwaiter().GetResult();
            }
        }

        /// <summary>Leaves the guest running without breakpoints; returns the first failure, if any.</summary>
        private Exception? Cleanup()
        {
            _cleaningUp = true;
            try
            {
                if (_running)
                {
                    Target.InterruptAsync().GetAwaiter().GetResult();
                    if (WaitForStop().Exited)
                    {
                        return null;
                    }
                }

                foreach (var address in _inserted.ToArray())
                {
                    Remove(address);
                }

                Continue();
                return null;
            }
            catch (Exception ex)
            {
                // A lost connection: QEMU drops breakpoints and resumes the guest when its gdb client goes away.
                return ex is GdbTargetLostException ? null : ex;
            }
        }
    }

    /// <summary>The flags after <c>test al, al</c>: ZF, SF, PF from AL; CF, OF (and the undefined AF) cleared.</summary>
    internal static ulong TestAlAlFlags(ulong flags, byte al) => TestFlags(flags, al, signBit: 0x80);

    /// <summary>The flags after <c>test eax, eax</c>: as for AL, but zero and sign come from all 32 bits.</summary>
    internal static ulong TestEaxEaxFlags(ulong flags, uint eax) => TestFlags(flags, eax, signBit: 0x8000_0000);

    /// <summary>The flags after <c>clac</c>: AC (bit 18) cleared, nothing else changed.</summary>
    internal static ulong ClacFlags(ulong flags) => flags & ~0x4_0000UL;

    private static ulong EmulatedFlags(TrapEmulation emulation, ulong flags, ulong rax) => emulation switch
    {
        TrapEmulation.TestAlAl => TestAlAlFlags(flags, (byte)rax),
        TrapEmulation.TestEaxEax => TestEaxEaxFlags(flags, (uint)rax),
        _ => ClacFlags(flags),
    };

    private static ulong TestFlags(ulong flags, uint value, uint signBit)
    {
        const ulong Cf = 0x1, Pf = 0x4, Af = 0x10, Zf = 0x40, Sf = 0x80, Of = 0x800;
        flags &= ~(Cf | Pf | Af | Zf | Sf | Of);
        if (value == 0)
        {
            flags |= Zf;
        }

        if ((value & signBit) != 0)
        {
            flags |= Sf;
        }

        // PF reflects the low byte only, whatever the operand size.
        if ((System.Numerics.BitOperations.PopCount(value & 0xFF) & 1) == 0)
        {
            flags |= Pf;
        }

        return flags;
    }

    /// <summary>Register access to the stopped vCPU for <see cref="VcpuHandle"/>.</summary>
    private sealed class StubVcpuAccess(IGdbTarget target, int vcpu, GdbRegisterSnapshot snapshot) : IVcpuAccess
    {
        private GdbRegisterSnapshot _snapshot = snapshot;

        public bool Dirty { get; private set; }

        public void GetRegisters(out Registers registers) => registers = _snapshot.Registers;

        public void SetRegisters(in Registers registers)
        {
            target.WriteRegistersAsync(vcpu, registers).GetAwaiter().GetResult();
            _snapshot.Registers = registers;
            Dirty = true;
        }

        public void GetSpecialRegisters(out SpecialRegisters registers) => registers = _snapshot.SpecialRegisters;

        public void SetSpecialRegisters(in SpecialRegisters registers) =>
            throw new NotSupportedException("Through the gdbstub only general-purpose registers can be changed.");
    }
}

/// <summary>The connection to the gdbstub was lost (QEMU exited or the socket closed).</summary>
public sealed class GdbTargetLostException : IOException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What was lost and when.</param>
    public GdbTargetLostException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What was lost and when.</param>
    /// <param name="innerException">The cause.</param>
    public GdbTargetLostException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
