namespace Nitro.Reactive.Machinery;

/// <summary>The platform names Cuckoo and CAPE use in a machine's <c>platform</c> key.</summary>
public static class MachinePlatform
{
    /// <summary>Microsoft Windows guests.</summary>
    public const string Windows = "windows";

    /// <summary>macOS guests.</summary>
    public const string Darwin = "darwin";

    /// <summary>Linux guests.</summary>
    public const string Linux = "linux";
}

/// <summary>The power state of a machine as the hypervisor reports it.</summary>
public enum MachineState
{
    /// <summary>The hypervisor reported a state the module does not map (libvirt: any state but 1, 3, 4 and 5).</summary>
    Unknown,

    /// <summary>The machine runs (libvirt state 1).</summary>
    Running,

    /// <summary>The machine is paused (libvirt state 3).</summary>
    Paused,

    /// <summary>The machine is off (libvirt states 4, shutting down, and 5, shut off).</summary>
    PoweredOff,

    /// <summary>The machine is in an error state (libvirt: crashed and the like).</summary>
    Error,
}

/// <summary>
/// One analysis machine of a <see cref="MachineryModule"/>, as its configuration section describes it, plus
/// whether an analysis holds it (<see cref="Locked"/>).
/// </summary>
public sealed class Machine
{
    /// <summary>Gets the machine's id: the name of its configuration section (listed in <c>machines</c>).</summary>
    public required string Id { get; init; }

    /// <summary>Gets the machine's name in the hypervisor (libvirt domain, VirtualBox VM…).</summary>
    public required string Label { get; init; }

    /// <summary>Gets the guest platform, usually one of <see cref="MachinePlatform"/>; compared case-insensitively.</summary>
    public required string Platform { get; init; }

    /// <summary>Gets the guest's IP address.</summary>
    public required string Ip { get; init; }

    /// <summary>Gets the snapshot to revert to before each start, or <see langword="null"/> for the current one.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Gets the host network interface to capture on, or <see langword="null"/>.</summary>
    public string? Interface { get; init; }

    /// <summary>Gets the result server address this guest reports to, when it differs from the global one.</summary>
    public string? ResultServerIp { get; init; }

    /// <summary>Gets the result server port this guest reports to, when it differs from the global one.</summary>
    public int? ResultServerPort { get; init; }

    /// <summary>Gets the machine's tags (case-sensitive), used to pick machines for a task.</summary>
    public IReadOnlySet<string> Tags { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Gets the guest architecture (CAPE's <c>arch</c>, for example <c>x64</c>), or <see langword="null"/>.</summary>
    public string? Arch { get; init; }

    /// <summary>Gets whether the machine is reserved: acquired only when a request names its label.</summary>
    public bool Reserved { get; init; }

    /// <summary>Gets the machine's whole configuration section, for module-specific keys.</summary>
    public required IniSection Section { get; init; }

    /// <summary>Gets whether an analysis currently holds the machine (see <see cref="MachineryModule.AcquireAsync"/>).</summary>
    public bool Locked { get; internal set; }

    /// <inheritdoc/>
    public override string ToString() => $"{Id} (label {Label}, {Platform}, {Ip})";
}

/// <summary>
/// What an analysis needs from a machine. Every criterion given must match; a reserved machine matches
/// only a request that names its <see cref="Label"/>.
/// </summary>
public sealed record MachineRequest
{
    /// <summary>Gets the hypervisor label of the one machine wanted, or <see langword="null"/> for any.</summary>
    public string? Label { get; init; }

    /// <summary>Gets the platform wanted (case-insensitive), or <see langword="null"/> for any.</summary>
    public string? Platform { get; init; }

    /// <summary>Gets tags the machine must all carry; empty for no constraint.</summary>
    public IReadOnlyCollection<string> Tags { get; init; } = [];

    /// <summary>A request for any machine that is not reserved.</summary>
    public static MachineRequest Any { get; } = new();

    /// <inheritdoc/>
    public override string ToString() =>
        $"label={Label ?? "any"}, platform={Platform ?? "any"}, tags=[{string.Join(',', Tags)}]";

    internal bool Matches(Machine machine)
    {
        if (Label is not null)
        {
            if (!string.Equals(machine.Label, Label, StringComparison.Ordinal))
            {
                return false;
            }
        }
        else if (machine.Reserved)
        {
            return false;
        }

        if (Platform is not null && !string.Equals(machine.Platform, Platform, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var tag in Tags)
        {
            if (!machine.Tags.Contains(tag))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A machine with the power state the hypervisor reported for it.</summary>
/// <param name="Machine">The machine.</param>
/// <param name="State">Its power state.</param>
public sealed record MachineStatus(Machine Machine, MachineState State);
