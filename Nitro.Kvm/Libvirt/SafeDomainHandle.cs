using System.Runtime.InteropServices;

namespace Nitro.Kvm.Libvirt;

/// <summary>Owns a libvirt domain reference (virDomainPtr), released with virDomainFree.</summary>
internal sealed class SafeDomainHandle : SafeHandle
{
    /// <summary>Used by the P/Invoke marshaller for returned pointers.</summary>
    public SafeDomainHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a pointer libvirt handed out inside an array.</summary>
    internal static SafeDomainHandle Own(IntPtr pointer)
    {
        var safeHandle = new SafeDomainHandle();
        safeHandle.SetHandle(pointer);
        return safeHandle;
    }

    protected override bool ReleaseHandle() => Interop.Libvirt.virDomainFree(handle) >= 0;
}
