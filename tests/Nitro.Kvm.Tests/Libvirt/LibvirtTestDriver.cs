using System.Runtime.InteropServices;
using Nitro.Kvm.Libvirt;

namespace Nitro.Kvm.Tests.Libvirt;

/// <summary>
/// libvirt's in-process test driver. All test:///default connections open at once in a process
/// share one state, reset when the last one closes — so the libvirt tests run one at a time and
/// dispose every connection and domain they open.
/// </summary>
internal static class LibvirtTestDriver
{
    public const string Uri = "test:///default";

    public const string DefaultDomain = "test";

    private static readonly Lazy<bool> s_available = new(() =>
    {
        // Kept loaded: unloading libvirt (dlclose) after its constructors ran crashes the process later.
        return NativeLibrary.TryLoad("libvirt.so.0", out _);
    });

    /// <summary>
    /// Waits until a new connection sees the rebuilt default state (domain "test" running). Event
    /// registrations release their connection reference on libvirt's event loop thread, shortly
    /// after the subscription is disposed, so the rebuild can lag a little.
    /// </summary>
    public static async Task<DomainState> WaitForFreshStateAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            DomainState state;
            using (var connection = LibvirtConnection.Open(Uri))
            using (var domain = connection.LookupDomain(DefaultDomain))
            {
                state = domain.GetState().State;
            }

            if (state == DomainState.Running || DateTime.UtcNow >= deadline)
            {
                return state;
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Ignores the calling test when libvirt.so.0 cannot be loaded (package libvirt0).</summary>
    public static void RequireLibvirt()
    {
        if (!s_available.Value)
        {
            Assert.Ignore("libvirt.so.0 cannot be loaded: apt-get install libvirt0 to run the libvirt tests.");
        }
    }
}
