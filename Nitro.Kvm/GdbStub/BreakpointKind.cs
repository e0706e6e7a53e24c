namespace Nitro.Kvm.GdbStub;

/// <summary>The kind of breakpoint to insert.</summary>
public enum BreakpointKind
{
    /// <summary>A software breakpoint (<c>Z0</c>); under QEMU it costs nothing until hit.</summary>
    Software = 0,

    /// <summary>A hardware breakpoint (<c>Z1</c>); limited in number under KVM.</summary>
    Hardware = 1,
}
