namespace Nitro.Reactive.Events;

/// <summary>
/// Register access to one paused vCPU, implemented by a listener (gdbstub, Nitro ioctls).
/// Users reach it through <see cref="VcpuHandle"/>, which refuses access once the vCPU resumed.
/// </summary>
public interface IVcpuAccess
{
    /// <summary>Reads the general-purpose registers of the paused vCPU.</summary>
    /// <param name="registers">Receives the registers.</param>
    void GetRegisters(out Registers registers);

    /// <summary>Writes the general-purpose registers of the paused vCPU.</summary>
    /// <param name="registers">The new values.</param>
    void SetRegisters(in Registers registers);

    /// <summary>Reads the special registers of the paused vCPU.</summary>
    /// <param name="registers">Receives the registers.</param>
    void GetSpecialRegisters(out SpecialRegisters registers);

    /// <summary>Writes the special registers of the paused vCPU.</summary>
    /// <param name="registers">The new values.</param>
    void SetSpecialRegisters(in SpecialRegisters registers);
}
