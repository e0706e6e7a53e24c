using System.Diagnostics.CodeAnalysis;

namespace Nitro.Kvm.Libvirt;

/// <summary>
/// A connection to a libvirt hypervisor driver, e.g. <c>qemu:///system</c>,
/// <c>qemu+tcp://127.0.0.1/system</c> or the in-process <c>test:///default</c>.
/// </summary>
/// <remarks>
/// All <c>test:///default</c> connections open at the same time in one process share one state;
/// it is reset to the single running domain "test" once the last connection (and every domain
/// obtained from it) is disposed.
/// </remarks>
public sealed class LibvirtConnection : IDisposable
{
    /// <summary>libvirt's VIR_ERR_NO_DOMAIN.</summary>
    private const int NoDomainError = 42;

    private readonly SafeConnectHandle _handle;
    private readonly LifecycleEventHub _lifecycleEvents;

    private LibvirtConnection(SafeConnectHandle handle, string uri)
    {
        _handle = handle;
        Uri = uri;
        _lifecycleEvents = new LifecycleEventHub(handle, uri);
    }

    /// <summary>Gets the URI of the connection, as libvirt reports it.</summary>
    public string Uri { get; }

    /// <summary>Opens a read-write connection.</summary>
    /// <param name="uri">The libvirt URI, e.g. <c>qemu:///system</c> or <c>test:///default</c>.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="LibvirtException">libvirt.so.0 is not installed, or libvirt could not open <paramref name="uri"/>.</exception>
    public static LibvirtConnection Open(string uri)
    {
        ArgumentException.ThrowIfNullOrEmpty(uri);
        SafeConnectHandle handle;
        try
        {
            handle = Interop.Libvirt.ConnectOpen(uri);
        }
        catch (DllNotFoundException ex)
        {
            throw new LibvirtException($"{Interop.Libvirt.LibraryName} not found: apt-get install libvirt0", ex);
        }

        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw LibvirtException.FromLastError($"Opening libvirt connection '{uri}'");
        }

        var reported = Interop.Libvirt.ConnectGetUri(handle);
        return new LibvirtConnection(handle, string.IsNullOrEmpty(reported) ? uri : reported);
    }

    /// <summary>Looks up a domain by name.</summary>
    /// <param name="name">The domain name.</param>
    /// <returns>The domain; dispose it when done.</returns>
    /// <exception cref="LibvirtException">No domain has that name, or libvirt failed.</exception>
    public LibvirtDomain LookupDomain(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var handle = Interop.Libvirt.DomainLookupByName(_handle, name);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw LibvirtException.FromLastError($"Looking up domain '{name}' on {Uri}");
        }

        return new LibvirtDomain(handle, name, Uri);
    }

    /// <summary>Defines a persistent domain from its XML (virDomainDefineXML), or updates the definition of one with the same name.</summary>
    /// <param name="xml">The domain XML.</param>
    /// <returns>The defined (inactive) domain; dispose it when done.</returns>
    /// <exception cref="LibvirtException">The XML is invalid, or libvirt failed.</exception>
    public LibvirtDomain DefineDomain(string xml)
    {
        ArgumentException.ThrowIfNullOrEmpty(xml);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var handle = Interop.Libvirt.DomainDefineXml(_handle, xml);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw LibvirtException.FromLastError($"Defining a domain on {Uri}");
        }

        var name = Interop.Libvirt.DomainGetName(handle) ?? throw LibvirtException.FromLastError($"Reading the name of a domain defined on {Uri}");
        return new LibvirtDomain(handle, name, Uri);
    }

    /// <summary>Looks up a domain by name, returning false when there is none.</summary>
    /// <param name="name">The domain name.</param>
    /// <param name="domain">The domain when found; dispose it when done.</param>
    /// <returns>True when the domain exists.</returns>
    /// <exception cref="LibvirtException">libvirt failed for another reason than a missing domain.</exception>
    public bool TryLookupDomain(string name, [NotNullWhen(true)] out LibvirtDomain? domain)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var handle = Interop.Libvirt.DomainLookupByName(_handle, name);
        if (handle.IsInvalid)
        {
            handle.Dispose();
            var error = LibvirtException.FromLastError($"Looking up domain '{name}' on {Uri}");
            if (error.Code == NoDomainError)
            {
                domain = null;
                return false;
            }

            throw error;
        }

        domain = new LibvirtDomain(handle, name, Uri);
        return true;
    }

    /// <summary>Lists every domain, running or not.</summary>
    /// <returns>The domains; dispose each when done.</returns>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public IReadOnlyList<LibvirtDomain> ListDomains()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var handles = Interop.Libvirt.ConnectListAllDomains(_handle)
            ?? throw LibvirtException.FromLastError($"Listing the domains of {Uri}");
        var domains = new List<LibvirtDomain>(handles.Count);
        foreach (var handle in handles)
        {
            domains.Add(new LibvirtDomain(handle, Interop.Libvirt.DomainGetName(handle) ?? string.Empty, Uri));
        }

        return domains;
    }

    /// <summary>
    /// Lifecycle events of every domain on this connection (started, suspended, resumed, stopped …),
    /// delivered on libvirt's event loop thread from the moment of subscription.
    /// </summary>
    /// <returns>A hot stream per subscription; disposing the subscription deregisters it. Filter by <see cref="DomainLifecycleEvent.DomainName"/> for one domain.</returns>
    /// <remarks>
    /// All subscriptions share one libvirt registration. The stream fails with
    /// <see cref="LibvirtException"/> when libvirt refuses the registration; an exception thrown by
    /// an observer's OnNext is passed to that observer's OnError and ends only its subscription.
    /// </remarks>
    public IObservable<DomainLifecycleEvent> LifecycleEvents() => _lifecycleEvents;

    /// <summary>Closes the connection; domains and event subscriptions obtained from it keep it alive until they are disposed.</summary>
    public void Dispose() => _handle.Dispose();
}
