namespace Nitro.Reactive.Syscalls;

/// <summary>
/// The guest process that made a system call. OS back ends derive from it to add what their
/// guest exposes (thread group, executable path, EPROCESS address …) and list those extras in
/// <see cref="Properties"/>, which exporters write next to <c>name</c> and <c>pid</c>.
/// </summary>
public class Process : IEquatable<Process>
{
    private static readonly IReadOnlyDictionary<string, object?> s_noProperties =
        new Dictionary<string, object?>(StringComparer.Ordinal);

    /// <summary>Initializes a new instance.</summary>
    /// <param name="pid">The process id as the guest reports it.</param>
    /// <param name="name">The short process name (Linux <c>comm</c>, Windows <c>ImageFileName</c>).</param>
    /// <param name="parentPid">The parent's process id, when known.</param>
    /// <param name="properties">OS-specific extras for exporters (for example <c>tgid</c>, <c>path</c>).</param>
    public Process(int pid, string name, int? parentPid = null, IReadOnlyDictionary<string, object?>? properties = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        Pid = pid;
        Name = name;
        ParentPid = parentPid;
        Properties = properties ?? s_noProperties;
    }

    /// <summary>Gets the shared empty properties of processes created without any.</summary>
    internal static IReadOnlyDictionary<string, object?> NoProperties => s_noProperties;

    /// <summary>Gets the process id.</summary>
    public int Pid { get; }

    /// <summary>Gets the short process name.</summary>
    public string Name { get; }

    /// <summary>Gets the parent's process id, when known.</summary>
    public int? ParentPid { get; }

    /// <summary>Gets OS-specific extras (for example <c>tgid</c>, <c>path</c>), never <see langword="null"/>.</summary>
    public IReadOnlyDictionary<string, object?> Properties { get; }

    /// <inheritdoc />
    public bool Equals(Process? other) =>
        other is not null && Pid == other.Pid && string.Equals(Name, other.Name, StringComparison.Ordinal) && ParentPid == other.ParentPid;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Process);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Pid, Name);

    /// <inheritdoc />
    public override string ToString() => $"{Name}[{Pid}]";
}
