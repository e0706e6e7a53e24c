using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Nitro.Kvm.Targets;

/// <summary>
/// What a libvirt domain's XML says about tracing it: the trap plugin's control file and the
/// gdbstub socket QEMU was told to open (through <c>&lt;qemu:commandline&gt;</c>, since libvirt has
/// no element for either), the RAM size, the kernel command line and the serial console's socket
/// and log file.
/// </summary>
public sealed record TraceableDomainDescription
{
    /// <summary>The namespace of libvirt's QEMU command-line passthrough.</summary>
    public const string QemuNamespace = "http://libvirt.org/schemas/domain/qemu/1.0";

    /// <summary>Gets the domain name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the guest RAM size in bytes.</summary>
    public required ulong MemoryBytes { get; init; }

    /// <summary>Gets the gdbstub's unix socket, or <see langword="null"/> when the domain opens none (then only the trap plugin can trace it).</summary>
    public string? GdbSocketPath { get; init; }

    /// <summary>
    /// Gets the control file of the trap plugin (<c>-plugin …/libnitro-trap.so,ctl=PATH</c>), or
    /// <see langword="null"/> when QEMU loads no trap plugin.
    /// </summary>
    public string? PluginControlPath { get; init; }

    /// <summary>Gets the kernel command line of a direct kernel boot, if any.</summary>
    public string? KernelCommandLine { get; init; }

    /// <summary>Gets the unix socket of the first serial port, if it is one.</summary>
    public string? ConsoleSocketPath { get; init; }

    /// <summary>Gets the log file of the first serial port, if it has one.</summary>
    public string? ConsoleLogPath { get; init; }

    /// <summary>Reads the description from a domain's XML.</summary>
    /// <param name="xml">The XML libvirt returned for the domain.</param>
    /// <returns>The description.</returns>
    /// <exception cref="FormatException">
    /// The XML is malformed, or declares neither the trap plugin nor a gdbstub on a unix socket (the
    /// message says what to add).
    /// </exception>
    public static TraceableDomainDescription Parse(string xml)
    {
        ArgumentNullException.ThrowIfNull(xml);
        XElement domain;
        try
        {
            domain = XElement.Parse(xml);
        }
        catch (XmlException ex)
        {
            throw new FormatException($"The domain XML is malformed: {ex.Message}", ex);
        }

        var name = domain.Element("name")?.Value ?? throw new FormatException("The domain XML has no <name>.");
        var memory = domain.Element("memory") ?? throw new FormatException($"Domain '{name}' has no <memory> element.");
        var bytes = ParseMemory(name, memory);
        var serial = domain.Element("devices")?.Elements("serial").FirstOrDefault();
        XNamespace qemu = QemuNamespace;
        var arguments = domain.Elements(qemu + "commandline").Elements(qemu + "arg")
            .Select(arg => (string?)arg.Attribute("value") ?? string.Empty)
            .ToList();
        var plugin = FindPluginControl(name, arguments);
        var gdb = FindGdbSocket(name, arguments);
        if (plugin is null && gdb is null)
        {
            throw new FormatException(
                $"Domain '{name}' loads no trap plugin and opens no gdbstub, so it cannot be traced. Add to its XML " +
                $"<qemu:commandline xmlns:qemu='{QemuNamespace}'> either <qemu:arg value='-plugin'/><qemu:arg value='/path/{Plugin.TrapPlugin.FileName},ctl=/run/nitro/{name}.ctl'/> " +
                "or <qemu:arg value='-gdb'/><qemu:arg value='unix:/path/gdb.sock,server=on,wait=off'/> (or both).");
        }

        return new TraceableDomainDescription
        {
            Name = name,
            MemoryBytes = bytes,
            GdbSocketPath = gdb,
            PluginControlPath = plugin,
            KernelCommandLine = domain.Element("os")?.Element("cmdline")?.Value,
            ConsoleSocketPath = string.Equals((string?)serial?.Attribute("type"), "unix", StringComparison.Ordinal) ? (string?)serial?.Element("source")?.Attribute("path") : null,
            ConsoleLogPath = (string?)serial?.Element("log")?.Attribute("file"),
        };
    }

    private static ulong ParseMemory(string name, XElement memory)
    {
        var unit = ((string?)memory.Attribute("unit") ?? "KiB").ToUpperInvariant();
        ulong scale = unit switch
        {
            "B" or "BYTES" => 1,
            "K" or "KIB" => 1UL << 10,
            "KB" => 1000,
            "M" or "MIB" => 1UL << 20,
            "MB" => 1000_000,
            "G" or "GIB" => 1UL << 30,
            "GB" => 1000_000_000,
            _ => throw new FormatException($"Domain '{name}': unknown memory unit '{unit}'."),
        };
        if (!ulong.TryParse(memory.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var amount) || amount == 0)
        {
            throw new FormatException($"Domain '{name}': <memory> holds '{memory.Value}', not a size.");
        }

        return checked(amount * scale);
    }

    /// <summary>
    /// Finds <c>-plugin [file=]…/libnitro-trap.so,ctl=PATH,…</c> among the passthrough arguments: the
    /// plugin with a <c>ctl=</c> argument, whatever its file is called (QEMU also takes the plugin's
    /// arguments as <c>arg=ctl=PATH</c>, the older form).
    /// </summary>
    private static string? FindPluginControl(string name, List<string> arguments)
    {
        for (var i = 0; i + 1 < arguments.Count; i++)
        {
            if (arguments[i] is not "-plugin")
            {
                continue;
            }

            var options = arguments[i + 1].Split(',');
            var file = options[0].StartsWith("file=", StringComparison.Ordinal) ? options[0]["file=".Length..] : options[0];
            var control = options.Skip(1)
                .Select(o => o.StartsWith("arg=", StringComparison.Ordinal) ? o["arg=".Length..] : o)
                .FirstOrDefault(o => o.StartsWith("ctl=", StringComparison.Ordinal));
            if (control is { Length: > 4 })
            {
                return control["ctl=".Length..];
            }

            if (string.Equals(Path.GetFileName(file), Plugin.TrapPlugin.FileName, StringComparison.Ordinal))
            {
                throw new FormatException($"Domain '{name}' loads the trap plugin without its control file; add ',ctl=/run/nitro/{name}.ctl' to '{arguments[i + 1]}'.");
            }
        }

        return null;
    }

    /// <summary>Finds <c>-gdb unix:PATH,…</c>, or <c>-gdb chardev:ID</c> with <c>-chardev socket,id=ID,path=PATH,…</c>, among the passthrough arguments.</summary>
    private static string? FindGdbSocket(string name, List<string> arguments)
    {
        var gdb = arguments.IndexOf("-gdb");
        if (gdb < 0 || gdb + 1 >= arguments.Count)
        {
            return null;
        }

        var device = arguments[gdb + 1];
        if (device.StartsWith("unix:", StringComparison.Ordinal))
        {
            return device["unix:".Length..].Split(',')[0];
        }

        if (device.StartsWith("chardev:", StringComparison.Ordinal))
        {
            var id = device["chardev:".Length..];
            for (var i = 0; i + 1 < arguments.Count; i++)
            {
                if (arguments[i] is not "-chardev")
                {
                    continue;
                }

                var options = arguments[i + 1].Split(',');
                if (options[0] is "socket" && options.Contains("id=" + id, StringComparer.Ordinal) &&
                    options.FirstOrDefault(o => o.StartsWith("path=", StringComparison.Ordinal)) is { } path)
                {
                    return path["path=".Length..];
                }
            }
        }

        throw new FormatException($"Domain '{name}' opens its gdbstub on '{device}'; tracing needs a unix socket (-gdb unix:/path/gdb.sock,server=on,wait=off).");
    }
}
