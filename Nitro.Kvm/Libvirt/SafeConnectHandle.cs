using System.Runtime.InteropServices;

namespace Nitro.Kvm.Libvirt;

/// <summary>Owns a libvirt connection (virConnectPtr), closed with virConnectClose.</summary>
internal sealed class SafeConnectHandle : SafeHandle
{
    /// <summary>Used by the P/Invoke marshaller for returned pointers.</summary>
    public SafeConnectHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes ownership of a pointer libvirt handed out inside an array.</summary>
    internal static SafeConnectHandle Own(IntPtr pointer)
    {
        var safeHandle = new SafeConnectHandle();
        safeHandle.SetHandle(pointer);
        return safeHandle;
    }

    protected override bool ReleaseHandle() => Interop.Libvirt.virConnectClose(handle) >= 0;
}
