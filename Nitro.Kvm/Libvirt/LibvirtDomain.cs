using System.Globalization;
using System.Security;

namespace Nitro.Kvm.Libvirt;

/// <summary>A libvirt domain (virtual machine) and the lifecycle, snapshot and dump operations on it.</summary>
public sealed class LibvirtDomain : IDisposable
{
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(50);

    private readonly SafeDomainHandle _handle;
    private readonly string _connectionUri;

    internal LibvirtDomain(SafeDomainHandle handle, string name, string connectionUri)
    {
        _handle = handle;
        Name = name;
        _connectionUri = connectionUri;
    }

    /// <summary>Gets the domain name.</summary>
    public string Name { get; }

    /// <summary>Gets the hypervisor's id of the running domain, or null while it is not running.</summary>
    public int? Id
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            var id = Interop.Libvirt.DomainGetId(_handle);
            return id == uint.MaxValue ? null : (int)id;
        }
    }

    /// <summary>Reads the current state.</summary>
    /// <returns>The state and libvirt's reason code for it (a <c>vir&lt;State&gt;Reason</c> value).</returns>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public (DomainState State, int Reason) GetState()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (!Interop.Libvirt.DomainGetState(_handle, out var state, out var reason))
        {
            throw Failure("Reading the state of");
        }

        return ((DomainState)state, reason);
    }

    /// <summary>Starts the defined, inactive domain (virDomainCreate).</summary>
    /// <exception cref="LibvirtException">The domain is already running, or libvirt failed.</exception>
    public void Create() => Check(Interop.Libvirt.DomainCreate(_handle), "Starting");

    /// <summary>Powers the domain off at once, like pulling the plug (virDomainDestroy).</summary>
    /// <exception cref="LibvirtException">The domain is not running, or libvirt failed.</exception>
    public void Destroy() => Check(Interop.Libvirt.DomainDestroy(_handle), "Powering off");

    /// <summary>
    /// Removes the domain's persistent definition (virDomainUndefineFlags) together with its snapshot
    /// metadata; a running domain keeps running until it stops. Internal snapshots stay in its disk images.
    /// </summary>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public void Undefine()
    {
        const uint snapshotsMetadata = 1 << 1; // VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        Check(Interop.Libvirt.DomainUndefine(_handle, snapshotsMetadata), "Undefining");
    }

    /// <summary>Pauses all vCPUs of the domain (virDomainSuspend).</summary>
    /// <exception cref="LibvirtException">The domain is not running, or libvirt failed.</exception>
    public void Suspend() => Check(Interop.Libvirt.DomainSuspend(_handle), "Suspending");

    /// <summary>Resumes a paused domain (virDomainResume).</summary>
    /// <exception cref="LibvirtException">The domain is not paused, or libvirt failed.</exception>
    public void Resume() => Check(Interop.Libvirt.DomainResume(_handle), "Resuming");

    /// <summary>Lists the names of the domain's snapshots.</summary>
    /// <returns>The snapshot names, in libvirt's order.</returns>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public IReadOnlyList<string> ListSnapshotNames()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return Interop.Libvirt.DomainListAllSnapshotNames(_handle) ?? throw Failure("Listing the snapshots of");
    }

    /// <summary>Gets the name of the current snapshot.</summary>
    /// <returns>The name, or null when the domain has no current snapshot.</returns>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public string? GetCurrentSnapshotName()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (!Interop.Libvirt.DomainHasCurrentSnapshot(_handle, out var has))
        {
            throw Failure("Checking for a current snapshot of");
        }

        if (!has)
        {
            return null;
        }

        using var snapshot = Interop.Libvirt.SnapshotCurrent(_handle);
        if (snapshot.IsInvalid)
        {
            throw Failure("Reading the current snapshot of");
        }

        return Interop.Libvirt.SnapshotGetName(snapshot);
    }

    /// <summary>Reverts the domain to a snapshot (virDomainRevertToSnapshot).</summary>
    /// <param name="snapshotName">The snapshot name.</param>
    /// <exception cref="LibvirtException">The snapshot does not exist, or libvirt could not revert.</exception>
    public void RevertToSnapshot(string snapshotName)
    {
        ArgumentException.ThrowIfNullOrEmpty(snapshotName);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        using var snapshot = Interop.Libvirt.SnapshotLookupByName(_handle, snapshotName);
        if (snapshot.IsInvalid)
        {
            throw Failure($"Looking up snapshot '{snapshotName}' of");
        }

        if (!Interop.Libvirt.RevertToSnapshot(snapshot))
        {
            throw Failure($"Reverting to snapshot '{snapshotName}' of");
        }
    }

    /// <summary>Takes a snapshot described only by its name; it becomes the current snapshot.</summary>
    /// <param name="snapshotName">The snapshot name.</param>
    /// <exception cref="LibvirtException">The name is taken, or libvirt could not take the snapshot.</exception>
    public void CreateSnapshot(string snapshotName)
    {
        ArgumentException.ThrowIfNullOrEmpty(snapshotName);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var xml = $"<domainsnapshot><name>{SecurityElement.Escape(snapshotName)}</name></domainsnapshot>";
        using var snapshot = Interop.Libvirt.SnapshotCreateXml(_handle, xml);
        if (snapshot.IsInvalid)
        {
            throw Failure($"Creating snapshot '{snapshotName}' of");
        }
    }

    /// <summary>Dumps the domain to a file (virDomainCoreDump); the file is written by the libvirt daemon's side.</summary>
    /// <param name="path">The file to write, as the hypervisor host sees it.</param>
    /// <param name="options">Dump flags; <see cref="CoreDumpOptions.MemoryOnly"/> gives an ELF memory dump on QEMU.</param>
    /// <exception cref="LibvirtException">libvirt could not dump the domain, or does not support <paramref name="options"/>.</exception>
    public void CoreDump(string path, CoreDumpOptions options = CoreDumpOptions.None)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (!Interop.Libvirt.DomainCoreDump(_handle, path, (uint)options))
        {
            throw Failure($"Dumping to '{path}' (options {options}) of");
        }
    }

    /// <summary>Reads the domain's XML description (virDomainGetXMLDesc).</summary>
    /// <returns>The XML document text.</returns>
    /// <exception cref="LibvirtException">libvirt failed.</exception>
    public string GetXmlDescription()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return Interop.Libvirt.DomainGetXmlDesc(_handle, 0) ?? throw Failure("Reading the XML description of");
    }

    /// <summary>
    /// Runs a command of QEMU's human monitor in the domain's QEMU (virDomainQemuMonitorCommand of
    /// libvirt-qemu; QEMU domains only). libvirt marks such a domain as tainted.
    /// </summary>
    /// <param name="command">The command (<c>info mtree -f</c>).</param>
    /// <returns>What QEMU answered.</returns>
    /// <exception cref="LibvirtException">libvirt or QEMU refused the command.</exception>
    public string QemuMonitorCommand(string command)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return Interop.Libvirt.DomainQemuMonitorCommandHmp(_handle, command) ?? throw Failure($"Running '{command}' in the QEMU monitor of");
    }

    /// <summary>Polls the state every 50 ms until it is <paramref name="wanted"/>.</summary>
    /// <param name="wanted">The state to wait for.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The reason code libvirt gave with the wanted state.</returns>
    /// <exception cref="TimeoutException">The state was not reached in time; the message names the last state seen.</exception>
    /// <exception cref="LibvirtException">libvirt failed to report the state.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<int> WaitForStateAsync(DomainState wanted, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (state, reason) = GetState();
            if (state == wanted)
            {
                return reason;
            }

            if (DateTime.UtcNow >= deadline)
            {
                var seconds = timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
                throw new TimeoutException(
                    $"domain '{Name}' on {_connectionUri} did not reach {wanted} within {seconds} s; last state: {state} (reason {reason.ToString(CultureInfo.InvariantCulture)})");
            }

            await Task.Delay(s_pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases the domain reference; the domain itself is unaffected.</summary>
    public void Dispose() => _handle.Dispose();

    private void Check(bool succeeded, string operation)
    {
        if (!succeeded)
        {
            throw Failure(operation);
        }
    }

    private LibvirtException Failure(string operation) =>
        LibvirtException.FromLastError($"{operation} domain '{Name}' on {_connectionUri}");
}
