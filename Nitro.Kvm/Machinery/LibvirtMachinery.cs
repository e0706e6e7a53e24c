using System.Collections.Concurrent;
using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Targets;
using Nitro.Reactive.Machinery;

namespace Nitro.Kvm.Machinery;

/// <summary>
/// The libvirt machinery module: machines are libvirt domains on the connection named by the
/// module's <c>dsn</c> (any libvirt URI — <c>qemu:///system</c>, <c>qemu+tcp://host/system</c>,
/// <c>test:///default</c> …). Start reverts to the machine's snapshot, else to the domain's current
/// snapshot, then powers the domain on; stop powers it off.
/// </summary>
public class LibvirtMachinery : MachineryModule, ITraceableMachinery, IDisposable
{
    private static readonly TimeSpan s_stateTimeout = TimeSpan.FromSeconds(60);

    private readonly string? _defaultUri;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, LibvirtTraceTarget> _targets = new(StringComparer.Ordinal);
    private LibvirtConnection? _connection;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="moduleName">The module (and configuration file) name, <c>libvirt</c> by default.</param>
    /// <param name="configurationDirectory">Where <c>&lt;module&gt;.conf</c> lives.</param>
    /// <param name="defaultUri">The connection URI when the configuration has no <c>dsn</c>.</param>
    public LibvirtMachinery(string moduleName = "libvirt", string configurationDirectory = "conf", string? defaultUri = null)
        : base(moduleName, configurationDirectory)
    {
        _defaultUri = defaultUri;
    }

    /// <summary>Gets the libvirt URI in use: the module's <c>dsn</c>, else the default (after initialization).</summary>
    /// <exception cref="MachineryConfigurationException">Neither is set.</exception>
    public string Uri => Options.TryGetString("dsn", out var dsn) ? dsn : _defaultUri ?? Options.GetString("dsn");

    /// <inheritdoc />
    protected override string Location => $"libvirt at {Uri}";

    /// <summary>Closes the libvirt connection.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the libvirt connection.</summary>
    /// <param name="disposing">Whether managed resources are released.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            CloseTraceTargets();
            lock (_gate)
            {
                _connection?.Dispose();
                _connection = null;
            }
        }
    }

    /// <summary>
    /// Opens a started machine for tracing: its domain must run on this host (the URI may still be a
    /// remote one that names this host) and load the trap plugin or open a gdbstub on a unix socket in
    /// its XML (see <see cref="TraceableDomainDescription"/>). The target
    /// is closed when the machine is stopped.
    /// </summary>
    /// <param name="label">The machine's label (its domain name).</param>
    /// <returns>The domain's plugin control file or gdbstub, memory and console.</returns>
    /// <exception cref="MachineryException">The machine is unknown, not running, not on this host, or declares neither the plugin nor a gdbstub.</exception>
    public ITraceTarget OpenTraceTarget(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        if (!Machines.Any(m => string.Equals(m.Label, label, StringComparison.Ordinal)))
        {
            throw new MachineryException(label, $"{ModuleName}: no machine is labelled '{label}'.", null);
        }

        if (_targets.TryGetValue(label, out var open))
        {
            return open;
        }

        LibvirtTraceTarget target;
        try
        {
            target = LibvirtTraceTarget.Open(Connection(), label);
        }
        catch (Exception ex) when (ex is LibvirtException or InvalidOperationException or FormatException or IOException)
        {
            throw new MachineryException(label, $"{ModuleName}: machine '{label}' cannot be traced: {ex.Message}", ex);
        }

        if (!_targets.TryAdd(label, target))
        {
            target.Dispose();
            return _targets[label];
        }

        return target;
    }

    /// <inheritdoc />
    protected override Task<bool> ExistsAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (!Connection().TryLookupDomain(machine.Label, out var domain))
        {
            return Task.FromResult(false);
        }

        domain.Dispose();
        return Task.FromResult(true);
    }

    /// <inheritdoc />
    protected override async Task StartCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        using var domain = Connection().LookupDomain(machine.Label);
        var (state, _) = domain.GetState();
        if (state is DomainState.Running or DomainState.Paused)
        {
            throw new MachineryException(machine.Label, $"{ModuleName}: machine '{machine.Label}' is already {state}; stop it before starting it from a clean snapshot.", null);
        }

        var snapshot = machine.Snapshot ?? domain.GetCurrentSnapshotName();
        if (snapshot is not null)
        {
            if (!domain.ListSnapshotNames().Contains(snapshot, StringComparer.Ordinal))
            {
                throw new MachineryException(machine.Label, $"{ModuleName}: machine '{machine.Label}' has no snapshot '{snapshot}' (it has: {string.Join(", ", domain.ListSnapshotNames())}).", null);
            }

            domain.RevertToSnapshot(snapshot);
        }

        // A snapshot of a running domain comes back running (or paused); one of a stopped domain does not.
        (state, _) = domain.GetState();
        if (state == DomainState.Paused)
        {
            domain.Resume();
        }
        else if (state != DomainState.Running)
        {
            domain.Create();
        }

        await domain.WaitForStateAsync(DomainState.Running, s_stateTimeout, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task StopCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (_targets.TryRemove(machine.Label, out var target))
        {
            target.Dispose();
        }

        using var domain = Connection().LookupDomain(machine.Label);
        var (state, _) = domain.GetState();
        if (state == DomainState.Shutoff)
        {
            return;
        }

        // A domain that is shutting down (its guest powered off) is still active: finish it, unless it
        // goes inactive on its own meanwhile.
        try
        {
            domain.Destroy();
        }
        catch (LibvirtException) when (domain.GetState().State == DomainState.Shutoff)
        {
        }

        await domain.WaitForStateAsync(DomainState.Shutoff, s_stateTimeout, cancellationToken);
    }

    /// <inheritdoc />
    protected override Task<MachineState> StatusCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        using var domain = Connection().LookupDomain(machine.Label);
        return Task.FromResult(ToMachineState(domain.GetState().State));
    }

    /// <inheritdoc />
    protected override Task DumpMemoryCoreAsync(Machine machine, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        using var domain = Connection().LookupDomain(machine.Label);
        try
        {
            domain.CoreDump(path, CoreDumpOptions.MemoryOnly);
        }
        catch (LibvirtException ex) when (ex.Message.Contains("unsupported flags", StringComparison.Ordinal))
        {
            // Drivers without memory-only dumps (the test driver) write a full core dump instead.
            domain.CoreDump(path);
        }

        return Task.CompletedTask;
    }

    /// <summary>libvirt's domain states as the machinery sees them (1 running, 3 paused, 4 / 5 off, others error).</summary>
    /// <param name="state">The libvirt state.</param>
    /// <returns>The machine state.</returns>
    public static MachineState ToMachineState(DomainState state) => state switch
    {
        DomainState.Running => MachineState.Running,
        DomainState.Paused => MachineState.Paused,
        DomainState.Shutdown or DomainState.Shutoff => MachineState.PoweredOff,
        _ => MachineState.Error,
    };

    private void CloseTraceTargets()
    {
        foreach (var label in _targets.Keys)
        {
            if (_targets.TryRemove(label, out var target))
            {
                target.Dispose();
            }
        }
    }

    private LibvirtConnection Connection()
    {
        lock (_gate)
        {
            return _connection ??= LibvirtConnection.Open(Uri);
        }
    }
}

/// <summary>The KVM machinery module: <see cref="LibvirtMachinery"/> on <c>qemu:///system</c> (unless <c>dsn</c> says otherwise), configured from <c>conf/kvm.conf</c>.</summary>
public sealed class KvmMachinery : LibvirtMachinery
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="configurationDirectory">Where <c>kvm.conf</c> lives.</param>
    public KvmMachinery(string configurationDirectory = "conf")
        : base("kvm", configurationDirectory, "qemu:///system")
    {
    }
}
