using Nitro.Reactive.Events;

namespace Nitro.Reactive.Tests;

/// <summary>A vCPU whose registers live in this object, for tests of handles and writes; counts the writes.</summary>
internal sealed class InMemoryVcpu(Registers registers = default) : IVcpuAccess
{
    public Registers Registers = registers;
    public SpecialRegisters SpecialRegisters;

    public int SetCalls { get; private set; }

    public int SetSpecialCalls { get; private set; }

    public void GetRegisters(out Registers registers) => registers = Registers;

    public void SetRegisters(in Registers registers)
    {
        SetCalls++;
        Registers = registers;
    }

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = SpecialRegisters;

    public void SetSpecialRegisters(in SpecialRegisters registers)
    {
        SetSpecialCalls++;
        SpecialRegisters = registers;
    }
}
