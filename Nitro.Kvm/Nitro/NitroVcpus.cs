using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Nitro.Kvm.Nitro;

/// <summary>
/// <c>struct nitro_vcpus { int num_vcpus; int ids[NITRO_MAX_VCPUS]; int fds[NITRO_MAX_VCPUS]; }</c>
/// (516 bytes), filled by <c>KVM_NITRO_ATTACH_VCPUS</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NitroVcpus
{
    /// <summary>NITRO_MAX_VCPUS.</summary>
    public const int MaxVcpus = 64;

    /// <summary>The size of the C structure in bytes.</summary>
    public const int Size = 4 + (2 * 4 * MaxVcpus);

    /// <summary>How many entries of <see cref="Ids"/> and <see cref="Fds"/> are valid.</summary>
    public int NumVcpus;

    /// <summary>vCPU ids.</summary>
    public VcpuIntArray Ids;

    /// <summary>vCPU file descriptors, owned by the caller once returned.</summary>
    public VcpuIntArray Fds;
}

/// <summary>A C <c>int[NITRO_MAX_VCPUS]</c>.</summary>
[InlineArray(NitroVcpus.MaxVcpus)]
internal struct VcpuIntArray
{
    private int _element0;
}
