using Nitro.Reactive.Events;

namespace Nitro.Reactive.Testing.Builders;

/// <summary>Edits a register file in place, for <see cref="NitroEventBuilder.WithRegisters(RegistersEditor)"/>.</summary>
/// <param name="registers">The registers to change.</param>
public delegate void RegistersEditor(ref Registers registers);

/// <summary>
/// Builds synthetic <see cref="NitroEvent"/>s for tests: no live vCPU, registers and time as given.
/// Defaults: vCPU 0, <see cref="SyscallDirection.Enter"/>, <see cref="SyscallMechanism.Syscall"/>,
/// all registers zero, CR3 <c>0x1000</c>, timestamp 0.
/// </summary>
/// <example><code>
/// var trap = new NitroEventBuilder().Exit().OnVcpu(1).WithRax(3).AtTime(1_000).Build();
/// </code></example>
public sealed class NitroEventBuilder
{
    /// <summary>The CR3 given to built events unless <see cref="WithCr3"/> says otherwise.</summary>
    public const ulong DefaultCr3 = 0x1000;

    private Registers _registers;
    private SpecialRegisters _specialRegisters;
    private int _vcpu;
    private SyscallDirection _direction = SyscallDirection.Enter;
    private SyscallMechanism _mechanism = SyscallMechanism.Syscall;
    private long _timestamp;

    /// <summary>Initializes a builder with the defaults.</summary>
    public NitroEventBuilder() => _specialRegisters.Cr3 = DefaultCr3;

    /// <summary>Makes the event a system call entry.</summary>
    /// <returns>This builder.</returns>
    public NitroEventBuilder Enter()
    {
        _direction = SyscallDirection.Enter;
        return this;
    }

    /// <summary>Makes the event a system call exit.</summary>
    /// <returns>This builder.</returns>
    public NitroEventBuilder Exit()
    {
        _direction = SyscallDirection.Exit;
        return this;
    }

    /// <summary>Sets the trapping instruction.</summary>
    /// <param name="mechanism">The mechanism.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithMechanism(SyscallMechanism mechanism)
    {
        _mechanism = mechanism;
        return this;
    }

    /// <summary>Sets the vCPU index.</summary>
    /// <param name="vcpu">The 0-based vCPU index.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vcpu"/> is negative.</exception>
    public NitroEventBuilder OnVcpu(int vcpu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        _vcpu = vcpu;
        return this;
    }

    /// <summary>Sets the host monotonic timestamp.</summary>
    /// <param name="nanoseconds">The time in nanoseconds.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder AtTime(long nanoseconds)
    {
        _timestamp = nanoseconds;
        return this;
    }

    /// <summary>Sets RAX (the call number on entry, the return value on exit).</summary>
    /// <param name="rax">The value.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithRax(ulong rax)
    {
        _registers.Rax = rax;
        return this;
    }

    /// <summary>Sets CR3 (the page-table root of the trapping context).</summary>
    /// <param name="cr3">The value.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithCr3(ulong cr3)
    {
        _specialRegisters.Cr3 = cr3;
        return this;
    }

    /// <summary>Replaces all general-purpose registers.</summary>
    /// <param name="registers">The registers.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithRegisters(in Registers registers)
    {
        _registers = registers;
        return this;
    }

    /// <summary>Changes general-purpose registers in place, for example <c>(ref Registers r) =&gt; r.Rdi = 3</c>.</summary>
    /// <param name="edit">The change.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithRegisters(RegistersEditor edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        edit(ref _registers);
        return this;
    }

    /// <summary>Replaces all special registers.</summary>
    /// <param name="specialRegisters">The special registers.</param>
    /// <returns>This builder.</returns>
    public NitroEventBuilder WithSpecialRegisters(in SpecialRegisters specialRegisters)
    {
        _specialRegisters = specialRegisters;
        return this;
    }

    /// <summary>Builds the event (a snapshot with no vCPU handle). The builder may be changed and used again.</summary>
    /// <returns>The event.</returns>
    public NitroEvent Build() => new(_vcpu, _direction, _mechanism, in _registers, in _specialRegisters, _timestamp);
}
