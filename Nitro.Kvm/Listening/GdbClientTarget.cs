using Nitro.Kvm.GdbStub;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Listening;

/// <summary>The listener's seam implemented over a real <see cref="GdbRemoteClient"/>.</summary>
internal sealed class GdbClientTarget(GdbRemoteClient client) : IGdbTarget
{
    // Register numbers of kvm_regs fields, in kvm_regs order (rax rbx rcx rdx rsi rdi rsp rbp r8…r15 rip rflags).
    private static readonly int[] s_gdbNumberOfKvmField =
    [
        GdbX86Registers.Rax, GdbX86Registers.Rbx, GdbX86Registers.Rcx, GdbX86Registers.Rdx,
        GdbX86Registers.Rsi, GdbX86Registers.Rdi, GdbX86Registers.Rsp, GdbX86Registers.Rbp,
        8, 9, 10, 11, 12, 13, 14, 15, GdbX86Registers.Rip, GdbX86Registers.Eflags,
    ];

    private int _selectedVcpu = -1;
    private GdbRegisterSnapshot _last;
    private int _lastVcpu = -1;

    public bool IsRunning => client.IsRunning;

    public async Task<GdbStop> WaitForStopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stop = await client.WaitForStopAsync(cancellationToken);
            _selectedVcpu = stop.VcpuIndex; // QEMU makes the stopping vCPU the current one
            _lastVcpu = -1;
            return new GdbStop(stop.VcpuIndex, stop.IsExit);
        }
        catch (GdbStubException ex)
        {
            throw Lost(ex);
        }
    }

    public Task InterruptAsync()
    {
        try
        {
            client.RequestInterrupt();
            return Task.CompletedTask;
        }
        catch (GdbStubException ex)
        {
            throw Lost(ex);
        }
    }

    public async Task<GdbRegisterSnapshot> ReadRegistersAsync(int vcpu)
    {
        await SelectAsync(vcpu);
        var file = await Call(client.ReadRegistersAsync());
        _last = new GdbRegisterSnapshot
        {
            Registers = file.ToRegisters(),
            SpecialRegisters = file.ToSpecialRegisters(),
            KernelGsBase = file.KernelGsBase,
        };
        _lastVcpu = vcpu;
        return _last;
    }

    public async Task WriteRegisterAsync(int vcpu, GdbRegister register, ulong value)
    {
        await SelectAsync(vcpu);
        await Call(client.WriteRegisterAsync((int)register, value));
    }

    public async Task WriteRegistersAsync(int vcpu, Registers registers)
    {
        // Write only what changed since the last read of this vCPU: each P is one round trip.
        var known = _lastVcpu == vcpu ? _last.Registers : default;
        var writes = new List<(int Number, ulong Value)>(s_gdbNumberOfKvmField.Length);
        CollectChanges(ref known, ref registers, all: _lastVcpu != vcpu, writes);
        await SelectAsync(vcpu);
        foreach (var (number, value) in writes)
        {
            await Call(client.WriteRegisterAsync(number, value));
        }

        if (_lastVcpu == vcpu)
        {
            _last.Registers = registers;
        }
    }

    public Task InsertBreakpointAsync(ulong address) => Call(client.InsertBreakpointAsync(address));

    public Task RemoveBreakpointAsync(ulong address) => Call(client.RemoveBreakpointAsync(address));

    public Task ContinueAsync() => Call(client.ContinueAsync());

    private static void CollectChanges(ref Registers known, ref Registers wanted, bool all, List<(int Number, ulong Value)> writes)
    {
        var old = Registers.AsBytes(ref known);
        var changed = Registers.AsBytes(ref wanted);
        for (var field = 0; field < s_gdbNumberOfKvmField.Length; field++)
        {
            var value = BitConverter.ToUInt64(changed.Slice(field * 8, 8));
            if (all || value != BitConverter.ToUInt64(old.Slice(field * 8, 8)))
            {
                writes.Add((s_gdbNumberOfKvmField[field], value));
            }
        }
    }

    private async Task SelectAsync(int vcpu)
    {
        if (vcpu >= 0 && vcpu != _selectedVcpu)
        {
            await Call(client.SelectThreadAsync(vcpu + 1));
            _selectedVcpu = vcpu;
        }
    }

    private static async Task Call(Task task)
    {
        try
        {
            await task;
        }
        catch (GdbStubException ex)
        {
            throw Lost(ex);
        }
    }

    private static async Task<T> Call<T>(Task<T> task)
    {
        try
        {
            return await task;
        }
        catch (GdbStubException ex)
        {
            throw Lost(ex);
        }
    }

    private static GdbTargetLostException Lost(GdbStubException ex) => new($"Lost the gdbstub: {ex.Message}", ex);
}
