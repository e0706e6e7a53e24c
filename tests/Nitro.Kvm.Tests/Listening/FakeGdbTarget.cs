using Nitro.Kvm.Listening;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Tests.Listening;

/// <summary>
/// A scripted guest behind the gdbstub seam: when continued it "runs" to the next scripted address
/// that has a breakpoint (addresses without one are executed silently), and it records every
/// operation the listener performs.
/// </summary>
internal sealed class FakeGdbTarget : IGdbTarget
{
    private readonly object _gate = new();
    private readonly Queue<(int Vcpu, ulong Rip)> _script;
    private readonly bool _exitAtEnd;
    private readonly bool _repeat;
    private bool _interruptPending;
    private int _currentVcpu;
    private GdbRegisterSnapshot[] _vcpus;

    public FakeGdbTarget(IEnumerable<(int Vcpu, ulong Rip)> script, bool exitAtEnd = true, int vcpus = 1, bool repeat = false)
    {
        _repeat = repeat;
        _script = new Queue<(int, ulong)>(script);
        _exitAtEnd = exitAtEnd;
        _vcpus = new GdbRegisterSnapshot[vcpus];
        for (var i = 0; i < vcpus; i++)
        {
            _vcpus[i].SpecialRegisters.Gs.Base = 0x7f00_0000_0000; // user GS
            _vcpus[i].KernelGsBase = 0xffff_8880_0000_0000 + ((ulong)i << 20);
            _vcpus[i].SpecialRegisters.Cr3 = 0x1234_5000;
        }
    }

    public HashSet<ulong> Breakpoints { get; } = [];

    public List<string> Log { get; } = [];

    public Func<Exception>? FailNextWait { get; set; }

    public bool IsRunning { get; private set; }

    public GdbRegisterSnapshot Vcpu(int index)
    {
        lock (_gate)
        {
            return _vcpus[index];
        }
    }

    public Task<GdbStop> WaitForStopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            while (true)
            {
                if (FailNextWait is { } fail)
                {
                    FailNextWait = null;
                    throw fail();
                }

                if (_interruptPending)
                {
                    _interruptPending = false;
                    IsRunning = false;
                    Log.Add("stop:interrupt");
                    return Task.FromResult(new GdbStop(_currentVcpu, false));
                }

                while (IsRunning && _script.Count > 0)
                {
                    var (vcpu, rip) = _script.Dequeue();
                    if (_repeat)
                    {
                        _script.Enqueue((vcpu, rip)); // the guest keeps making the same calls
                    }

                    if (Breakpoints.Contains(rip))
                    {
                        _currentVcpu = vcpu;
                        _vcpus[vcpu].Registers.Rip = rip;
                        _vcpus[vcpu].Registers.Rax = (ulong)Log.Count; // something that changes
                        IsRunning = false;
                        Log.Add($"stop:{vcpu}:0x{rip:x}");
                        return Task.FromResult(new GdbStop(vcpu, false));
                    }
                }

                if (IsRunning && _exitAtEnd)
                {
                    IsRunning = false;
                    Log.Add("exited");
                    return Task.FromResult(new GdbStop(-1, true));
                }

                if (!Monitor.Wait(_gate, TimeSpan.FromSeconds(20)))
                {
                    throw new TimeoutException("The fake guest waited 20 s for a continue or an interrupt: " + string.Join(", ", Log));
                }
            }
        }
    }

    public Task InterruptAsync()
    {
        lock (_gate)
        {
            Log.Add("interrupt");
            if (IsRunning)
            {
                _interruptPending = true;
                Monitor.PulseAll(_gate);
            }
        }

        return Task.CompletedTask;
    }

    public Task<GdbRegisterSnapshot> ReadRegistersAsync(int vcpu)
    {
        lock (_gate)
        {
            return Task.FromResult(_vcpus[vcpu < 0 ? _currentVcpu : vcpu]);
        }
    }

    public Task WriteRegisterAsync(int vcpu, GdbRegister register, ulong value)
    {
        lock (_gate)
        {
            ref var state = ref _vcpus[vcpu];
            switch (register)
            {
                case GdbRegister.Rip:
                    state.Registers.Rip = value;
                    break;
                case GdbRegister.Eflags:
                    state.Registers.Rflags = value;
                    break;
                case GdbRegister.GsBase:
                    state.SpecialRegisters.Gs.Base = value;
                    break;
                case GdbRegister.KernelGsBase:
                    state.KernelGsBase = value;
                    break;
            }

            Log.Add($"P:{register}=0x{value:x}");
        }

        return Task.CompletedTask;
    }

    public Task WriteRegistersAsync(int vcpu, Registers registers)
    {
        lock (_gate)
        {
            _vcpus[vcpu].Registers = registers;
            Log.Add("G");
        }

        return Task.CompletedTask;
    }

    public Task InsertBreakpointAsync(ulong address)
    {
        lock (_gate)
        {
            Breakpoints.Add(address);
            Log.Add($"Z0:0x{address:x}");
        }

        return Task.CompletedTask;
    }

    public Task RemoveBreakpointAsync(ulong address)
    {
        lock (_gate)
        {
            Breakpoints.Remove(address);
            Log.Add($"z0:0x{address:x}");
        }

        return Task.CompletedTask;
    }

    public Task ContinueAsync()
    {
        lock (_gate)
        {
            IsRunning = true;
            Log.Add("c");
            Monitor.PulseAll(_gate);
        }

        return Task.CompletedTask;
    }
}
