using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Nitro.Kvm.Targets;

/// <summary>
/// What a libvirt domain's XML says about tracing it: the gdbstub socket QEMU was told to open
/// (through <c>&lt;qemu:commandline&gt;</c>, since libvirt has no element for it), the RAM size,
/// the kernel command line and the serial console's socket and log file.
/// </summary>
public sealed record TraceableDomainDescription
{
    /// <summary>The namespace of libvirt's QEMU command-line passthrough.</summary>
    public const string QemuNamespace = "http://libvirt.org/schemas/domain/qemu/1.0";

    /// <summary>Gets the domain name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the guest RAM size in bytes.</summary>
    public required ulong MemoryBytes { get; init; }

    /// <summary>Gets the gdbstub's unix socket.</summary>
    public required string GdbSocketPath { get; init; }

    /// <summary>Gets the kernel command line of a direct kernel boot, if any.</summary>
    public string? KernelCommandLine { get; init; }

    /// <summary>Gets the unix socket of the first serial port, if it is one.</summary>
    public string? ConsoleSocketPath { get; init; }

    /// <summary>Gets the log file of the first serial port, if it has one.</summary>
    public string? ConsoleLogPath { get; init; }

    /// <summary>Reads the description from a domain's XML.</summary>
    /// <param name="xml">The XML libvirt returned for the domain.</param>
    /// <returns>The description.</returns>
    /// <exception cref="FormatException">The XML is malformed, or declares no gdbstub on a unix socket (the message says what to add).</exception>
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
        var serial = domain.Element("devices")?.Elements("serial").FirstOrDefault();
        return new TraceableDomainDescription
        {
            Name = name,
            MemoryBytes = ParseMemory(name, memory),
            GdbSocketPath = FindGdbSocket(name, domain),
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

    /// <summary>Finds <c>-gdb unix:PATH,…</c>, or <c>-gdb chardev:ID</c> with <c>-chardev socket,id=ID,path=PATH,…</c>, among the passthrough arguments.</summary>
    private static string FindGdbSocket(string name, XElement domain)
    {
        XNamespace qemu = QemuNamespace;
        var arguments = domain.Elements(qemu + "commandline").Elements(qemu + "arg")
            .Select(arg => (string?)arg.Attribute("value") ?? string.Empty)
            .ToList();
        var gdb = arguments.IndexOf("-gdb");
        if (gdb >= 0 && gdb + 1 < arguments.Count)
        {
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
                    if (!string.Equals(arguments[i], "-chardev", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var options = arguments[i + 1].Split(',');
                    if (string.Equals(options[0], "socket", StringComparison.Ordinal) && options.Contains("id=" + id, StringComparer.Ordinal) &&
                        options.FirstOrDefault(o => o.StartsWith("path=", StringComparison.Ordinal)) is { } path)
                    {
                        return path["path=".Length..];
                    }
                }
            }

            throw new FormatException($"Domain '{name}' opens its gdbstub on '{device}'; tracing needs a unix socket (-gdb unix:/path/gdb.sock,server=on,wait=off).");
        }

        throw new FormatException(
            $"Domain '{name}' declares no gdbstub. Add <qemu:commandline xmlns:qemu='{QemuNamespace}'><qemu:arg value='-gdb'/><qemu:arg value='unix:/path/gdb.sock,server=on,wait=off'/></qemu:commandline> to its XML.");
    }
}
