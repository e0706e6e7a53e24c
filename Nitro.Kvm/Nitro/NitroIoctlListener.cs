using System.Reactive.Disposables;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Kvm.Nitro;

/// <summary>
/// Traps system calls through Nitro's patched KVM (the <c>KVM_NITRO_*</c> ioctls): attach to the
/// VM of a QEMU process, attach its vCPUs, set the trap while the VM is suspended, then one thread
/// per vCPU waits for events, hands each to the observers while that vCPU stays paused, and
/// continues it. The plan's call numbers become kernel-side filters; its addresses are not used.
/// Stopping — disposal, an observer's exception, a failing vCPU — continues every paused vCPU,
/// clears the trap (VM suspended meanwhile) and resumes the VM: the guest is never left frozen.
/// Needs a kernel with Nitro's KVM module; it cannot run on stock kernels.
/// </summary>
public sealed class NitroIoctlListener : INitroListener
{
    private readonly INitroDevice _device;
    private readonly int _qemuPid;
    private readonly IVmControl _control;
    private int _attached;

    /// <summary>Creates a listener for the VM of a QEMU process on this host's patched <c>/dev/kvm</c>.</summary>
    /// <param name="qemuPid">The QEMU process (see <see cref="QemuProcessFinder"/>).</param>
    /// <param name="control">Suspends and resumes the VM around trap changes (QMP or libvirt).</param>
    public NitroIoctlListener(int qemuPid, IVmControl control)
        : this(new KvmNitroDevice(), qemuPid, control)
    {
    }

    internal NitroIoctlListener(INitroDevice device, int qemuPid, IVmControl control)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _control = control ?? throw new ArgumentNullException(nameof(control));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(qemuPid);
        _qemuPid = qemuPid;
    }

    /// <inheritdoc />
    public IObservable<NitroEvent> Listen(TrapPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return Observable.Create<NitroEvent>(observer =>
        {
            if (Interlocked.Exchange(ref _attached, 1) != 0)
            {
                throw new InvalidOperationException("This listener is already attached; dispose the other subscription first.");
            }

            Session session;
            try
            {
                session = new Session(this, plan, observer);
                session.Start();
            }
            catch
            {
                Volatile.Write(ref _attached, 0);
                throw;
            }

            return Disposable.Create(session.Stop);
        });
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Session
    {
        private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(15);

        private readonly NitroIoctlListener _owner;
        private readonly TrapPlan _plan;
        private readonly IObserver<NitroEvent> _observer;
        private readonly Lock _deliver = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Thread> _threads = [];
        private readonly List<ulong> _filters = [];
        private INitroVm? _vm;
        private IReadOnlyList<INitroVcpu> _vcpus = [];
        private Exception? _error;
        private int _running;
        private int _finished;

        public Session(NitroIoctlListener owner, TrapPlan plan, IObserver<NitroEvent> observer)
        {
            _owner = owner;
            _plan = plan;
            _observer = observer;
        }

        public void Start()
        {
            _vm = _owner._device.AttachVm(_owner._qemuPid);
            try
            {
                _vcpus = _vm.AttachVcpus();
                foreach (var number in _plan.SyscallNumbers ?? [])
                {
                    _vm.AddSyscallFilter((ulong)number);
                    _filters.Add((ulong)number);
                }

                _owner._control.SuspendAsync().GetAwaiter().GetResult();
                try
                {
                    _vm.SetSyscallTrap(true);
                }
                finally
                {
                    _owner._control.ResumeAsync().GetAwaiter().GetResult();
                }
            }
            catch
            {
                Release();
                throw;
            }

            _running = _vcpus.Count;
            foreach (var vcpu in _vcpus)
            {
                var thread = new Thread(() => Listen(vcpu)) { IsBackground = true, Name = $"nitro-vcpu-{vcpu.Id}" };
                _threads.Add(thread);
                thread.Start();
            }
        }

        public void Stop()
        {
            _stop.Cancel();
            if (_threads.Contains(Thread.CurrentThread))
            {
                // Disposed from inside OnNext (an auto-detaching observer that threw): this thread
                // holds the delivery lock, and another vCPU's thread may be waiting for it, so
                // joining would deadlock. The threads see the stop flag, continue their vCPUs and
                // the last one to end clears the trap.
                return;
            }

            foreach (var thread in _threads)
            {
                thread.Join(s_stopTimeout);
            }

            if (_threads.Count == 0)
            {
                Finish();
            }
        }

        private void Listen(INitroVcpu vcpu)
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    if (!vcpu.TryGetEvent(out var trap))
                    {
                        continue; // timed out (filters set): look at the stop flag again
                    }

                    try
                    {
                        Deliver(vcpu, trap);
                    }
                    finally
                    {
                        // Whatever the observers did, this vCPU runs on.
                        vcpu.Continue();
                    }
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ex, null);
                _stop.Cancel();
            }
            finally
            {
                if (Interlocked.Decrement(ref _running) == 0)
                {
                    Finish();
                }
            }
        }

        private void Deliver(INitroVcpu vcpu, NitroEventStruct trap)
        {
            if (!trap.IsPresent)
            {
                return;
            }

            var direction = trap.Direction == SyscallDirection.Exit ? SyscallDirection.Exit : SyscallDirection.Enter;
            var mechanism = trap.Type == SyscallMechanism.Sysenter ? SyscallMechanism.Sysenter : SyscallMechanism.Syscall;
            using var pause = VcpuHandle.Pause(vcpu.Id, new VcpuAccess(vcpu));
            var e = new NitroEvent(vcpu.Id, direction, mechanism, trap.Regs, trap.Sregs, MonotonicClock.Now, pause.Handle);
            lock (_deliver)
            {
                if (!_stop.IsCancellationRequested)
                {
                    _observer.OnNext(e); // serialized across vCPU threads: the Rx grammar holds
                }
            }
        }

        /// <summary>Runs once, when every vCPU thread has ended: clear the trap with the VM suspended, resume, report.</summary>
        private void Finish()
        {
            if (Interlocked.Exchange(ref _finished, 1) != 0)
            {
                return;
            }

            var cleanupError = Release();
            Volatile.Write(ref _owner._attached, 0);
            var error = _error ?? cleanupError;
            if (error is not null)
            {
                _observer.OnError(error);
            }
            else if (!_stop.IsCancellationRequested)
            {
                _observer.OnCompleted();
            }
        }

        private Exception? Release()
        {
            Exception? failure = null;
            if (_vm is null)
            {
                return null;
            }

            try
            {
                _owner._control.SuspendAsync().GetAwaiter().GetResult();
                try
                {
                    _vm.SetSyscallTrap(false);
                    foreach (var number in _filters)
                    {
                        _vm.RemoveSyscallFilter(number);
                    }
                }
                finally
                {
                    _owner._control.ResumeAsync().GetAwaiter().GetResult();
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            foreach (var vcpu in _vcpus)
            {
                vcpu.Dispose();
            }

            _vm.Dispose();
            _vm = null;
            return failure;
        }
    }

    private sealed class VcpuAccess(INitroVcpu vcpu) : IVcpuAccess
    {
        public void GetRegisters(out Registers registers) => vcpu.GetRegisters(out registers);

        public void SetRegisters(in Registers registers) => vcpu.SetRegisters(in registers);

        public void GetSpecialRegisters(out SpecialRegisters registers) => vcpu.GetSpecialRegisters(out registers);

        public void SetSpecialRegisters(in SpecialRegisters registers) => vcpu.SetSpecialRegisters(in registers);
    }
}
