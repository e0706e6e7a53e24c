using System.Collections.Concurrent;
using Nitro.Kvm.Nitro;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Tests.Nitro;

/// <summary>
/// A scripted Nitro device behind the ioctl seam: each vCPU replays a queue of traps (an empty
/// queue times out as the kernel does with filters set), and the device records every ioctl.
/// </summary>
internal sealed class FakeNitroDevice : INitroDevice, IVmControl
{
    private readonly ConcurrentQueue<string> _log = new();

    public FakeNitroDevice(params IEnumerable<NitroEventStruct>[] perVcpu)
    {
        Vcpus = perVcpu.Select((events, id) => new FakeVcpu(this, id, events)).ToList();
    }

    public List<FakeVcpu> Vcpus { get; }

    public IReadOnlyList<string> Log => [.. _log];

    public bool TrapEnabled { get; private set; }

    public bool Suspended { get; private set; }

    public HashSet<ulong> Filters { get; } = [];

    public int AttachedPid { get; private set; }

    public bool VmDisposed { get; private set; }

    public Func<int, Exception?>? FailGetEventOnVcpu { get; set; }

    public static NitroEventStruct Trap(SyscallDirection direction, ulong rax, ulong cr3 = 0x1000) => new()
    {
        Present = 1,
        Direction = direction,
        Type = SyscallMechanism.Syscall,
        Regs = new Registers { Rax = rax },
        Sregs = new SpecialRegisters { Cr3 = cr3 },
    };

    public INitroVm AttachVm(int qemuPid)
    {
        AttachedPid = qemuPid;
        Record($"attach_vm {qemuPid}");
        return new FakeVm(this);
    }

    public Task SuspendAsync(CancellationToken cancellationToken = default)
    {
        Suspended = true;
        Record("suspend");
        return Task.CompletedTask;
    }

    public Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        Suspended = false;
        Record("resume");
        return Task.CompletedTask;
    }

    internal void Record(string entry) => _log.Enqueue(entry);

    private sealed class FakeVm(FakeNitroDevice device) : INitroVm
    {
        public IReadOnlyList<INitroVcpu> AttachVcpus()
        {
            device.Record("attach_vcpus");
            return device.Vcpus;
        }

        public void SetSyscallTrap(bool enabled)
        {
            if (!device.Suspended)
            {
                throw new InvalidOperationException("the trap must be changed while the VM is suspended");
            }

            device.TrapEnabled = enabled;
            device.Record($"trap {enabled}");
        }

        public void AddSyscallFilter(ulong number)
        {
            device.Filters.Add(number);
            device.Record($"add_filter {number}");
        }

        public void RemoveSyscallFilter(ulong number)
        {
            device.Filters.Remove(number);
            device.Record($"remove_filter {number}");
        }

        public void Dispose()
        {
            device.VmDisposed = true;
            device.Record("close_vm");
        }
    }
}

internal sealed class FakeVcpu(FakeNitroDevice device, int id, IEnumerable<NitroEventStruct> events) : INitroVcpu
{
    private readonly Queue<NitroEventStruct> _events = new(events);
    private readonly Lock _gate = new();
    private Registers _registers;

    public int Id => id;

    /// <summary>Whether this vCPU was given an event and not continued yet.</summary>
    public bool Paused { get; private set; }

    public int Continues { get; private set; }

    public int Delivered { get; private set; }

    public bool Disposed { get; private set; }

    public bool TryGetEvent(out NitroEventStruct trap)
    {
        if (device.FailGetEventOnVcpu?.Invoke(id) is { } failure)
        {
            throw failure;
        }

        lock (_gate)
        {
            if (Paused)
            {
                throw new InvalidOperationException($"vCPU {id}: GET_EVENT while paused (no CONTINUE after the last event)");
            }

            if (!device.TrapEnabled || _events.Count == 0 || (device.Filters.Count > 0 && !device.Filters.Contains(_events.Peek().Regs.Rax)))
            {
                if (device.TrapEnabled && _events.Count > 0)
                {
                    _events.Dequeue(); // a filtered-out call: the guest runs through it
                }

                trap = default;
                Thread.Sleep(5); // the kernel's wait timing out
                return false;
            }

            trap = _events.Dequeue();
            _registers = trap.Regs;
            Paused = true;
            Delivered++;
            return true;
        }
    }

    public void Continue()
    {
        lock (_gate)
        {
            Paused = false;
            Continues++;
        }
    }

    public void GetRegisters(out Registers registers) => registers = _registers;

    public void SetRegisters(in Registers registers)
    {
        _registers = registers;
        device.Record($"set_regs {id} rax=0x{registers.Rax:x}");
    }

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = default;

    public void SetSpecialRegisters(in SpecialRegisters registers) => device.Record($"set_sregs {id}");

    public void Dispose() => Disposed = true;
}
