using System.Runtime.InteropServices;

namespace Nitro.Kvm.Libvirt;

/// <summary>Owns a libvirt snapshot reference (virDomainSnapshotPtr), released with virDomainSnapshotFree.</summary>
internal sealed class SafeSnapshotHandle : SafeHandle
{
    /// <summary>Used by the P/Invoke marshaller for returned pointers.</summary>
    public SafeSnapshotHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a pointer libvirt handed out inside an array.</summary>
    internal static SafeSnapshotHandle Own(IntPtr pointer)
    {
        var safeHandle = new SafeSnapshotHandle();
        safeHandle.SetHandle(pointer);
        return safeHandle;
    }

    protected override bool ReleaseHandle() => Interop.Libvirt.virDomainSnapshotFree(handle) >= 0;
}
