using System.Collections.Concurrent;
using System.Globalization;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Targets;
using Nitro.Reactive.Machinery;

namespace Nitro.Kvm.Machinery;

/// <summary>
/// The embedded machinery module: each machine is a <c>qemu-system-x86_64</c> that this process
/// starts itself (no daemon), from a kernel and initramfs named in its section —
/// <c>kernel</c>, optional <c>initrd</c>, <c>append</c>, <c>memory</c> (MiB), <c>vcpus</c>, and
/// <c>listener</c> (<c>plugin</c>, the default, loads the trap plugin when gcc can build it;
/// <c>gdbstub</c> leaves it out) — ready for either listener. It has no snapshots: every start boots
/// fresh. Configured from <c>conf/qemu.conf</c>.
/// </summary>
public sealed class QemuMachinery : MachineryModule, ITraceableMachinery, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, QemuMachine> _running = new(StringComparer.Ordinal);

    /// <summary>Initializes a new instance.</summary>
    /// <param name="configurationDirectory">Where <c>qemu.conf</c> lives.</param>
    public QemuMachinery(string configurationDirectory = "conf")
        : base("qemu", configurationDirectory)
    {
    }

    /// <summary>Gets the running QEMU of a started machine (its gdbstub, QMP, memory and console).</summary>
    /// <param name="label">The machine's label.</param>
    /// <returns>The QEMU machine.</returns>
    /// <exception cref="MachineryException">The machine is not running under this machinery.</exception>
    public QemuMachine GetRunning(string label) =>
        _running.TryGetValue(label, out var machine) && !machine.HasExited
            ? machine
            : throw new MachineryException(label, $"qemu: machine '{label}' is not running; start it first.", null);

    /// <inheritdoc />
    public ITraceTarget OpenTraceTarget(string label) => GetRunning(label);

    /// <summary>Stops every QEMU this machinery started.</summary>
    /// <returns>A task that completes when they are gone.</returns>
    public async ValueTask DisposeAsync()
    {
        foreach (var label in _running.Keys)
        {
            if (_running.TryRemove(label, out var machine))
            {
                await machine.DisposeAsync();
            }
        }
    }

    /// <inheritdoc />
    protected override Task<bool> ExistsAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var kernel = machine.Section.GetString("kernel");
        var initrd = machine.Section.TryGetString("initrd", out var path) ? path : null;
        return Task.FromResult(File.Exists(kernel) && (initrd is null || File.Exists(initrd)));
    }

    /// <inheritdoc />
    protected override async Task StartCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (_running.TryGetValue(machine.Label, out var existing) && !existing.HasExited)
        {
            throw new MachineryException(machine.Label, $"qemu: machine '{machine.Label}' is already running; stop it first.", null);
        }

        var section = machine.Section;
        var options = new QemuOptions
        {
            Kernel = section.GetString("kernel"),
            Initrd = section.TryGetString("initrd", out var initrd) ? initrd : null,
            Append = section.TryGetString("append", out var append) ? append : null,
            MemoryMiB = section.TryGetInt32("memory", out var memory) ? memory : 256,
            Vcpus = section.TryGetInt32("vcpus", out var vcpus) ? vcpus : 1,
            Name = machine.Label,
        };
        var listener = section.TryGetString("listener", out var value) ? value : "plugin";
        if (listener is not ("plugin" or "gdbstub"))
        {
            throw new MachineryException(machine.Label, $"qemu: machine '{machine.Label}' has listener = {listener}; use plugin or gdbstub.", null);
        }

        // No hold at the first user-mode instruction: a machine may be started without being traced.
        if (listener is "plugin" && !KvmProbe.IsUsable() && Plugin.TrapPlugin.TryEnsureBuilt(out var plugin, out _))
        {
            options.TrapPlugin = new TrapPluginLaunch(plugin);
        }

        _running[machine.Label] = await QemuMachine.StartAsync(options, cancellationToken);
    }

    /// <inheritdoc />
    protected override async Task StopCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (_running.TryRemove(machine.Label, out var running))
        {
            await running.DisposeAsync();
        }
    }

    /// <inheritdoc />
    protected override async Task<MachineState> StatusCoreAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (!_running.TryGetValue(machine.Label, out var running) || running.HasExited)
        {
            return MachineState.PoweredOff;
        }

        return await running.Qmp.QueryStatusAsync(cancellationToken) switch
        {
            "running" => MachineState.Running,
            "paused" or "debug" or "prelaunch" or "suspended" => MachineState.Paused,
            "shutdown" => MachineState.PoweredOff,
            _ => MachineState.Error,
        };
    }

    /// <inheritdoc />
    protected override async Task DumpMemoryCoreAsync(Machine machine, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var running = GetRunning(machine.Label);
        await running.Qmp.ExecuteAsync(
            "dump-guest-memory",
            new Dictionary<string, object?>(StringComparer.Ordinal) { ["paging"] = false, ["protocol"] = "file:" + Path.GetFullPath(path) },
            cancellationToken);
        if (!File.Exists(path))
        {
            throw new MachineryException(machine.Label, string.Create(CultureInfo.InvariantCulture, $"qemu: dump-guest-memory of '{machine.Label}' wrote no file at {path}."), null);
        }
    }
}
