using System.Globalization;
using System.Xml.Linq;
using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Targets;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.Libvirt;

/// <summary>
/// A QEMU (TCG) domain of the local libvirt daemon that boots the bundled guest with a gdbstub (or
/// the trap plugin) and a serial console on unix sockets, plus a small qcow2 disk that holds its internal snapshot: the
/// snapshot is taken while the guest waits for the tracer (nitro.wait), so every start from it comes
/// back running at that point. Disposal destroys and undefines the domain and removes its files.
/// scripts/libvirtd.sh starts the daemon (scripts/test.sh does it for the whole suite).
/// </summary>
internal sealed class LocalLibvirtDomain : IDisposable
{
    public const string SystemUri = "qemu:///system";
    public const string TcpUri = "qemu+tcp://127.0.0.1/system";
    public const string SnapshotName = "waiting";

    private LocalLibvirtDomain(string name, string directory, string? plugin, int memoryMiB)
    {
        Name = name;
        Directory = directory;
        PluginPath = plugin;
        MemoryMiB = memoryMiB;
    }

    /// <summary>Gets the guest's RAM.</summary>
    public int MemoryMiB { get; }

    public string Name { get; }

    public string Directory { get; }

    public string ConsoleLogPath => Path.Combine(Directory, "console.log");

    /// <summary>Gets the trap plugin QEMU loads instead of opening a gdbstub, or null for the gdbstub.</summary>
    public string? PluginPath { get; }

    /// <summary>Gets the trap plugin's control file (only with <see cref="PluginPath"/>).</summary>
    public string PluginControlPath => Path.Combine(Directory, "trap.ctl");

    /// <summary>
    /// Skips the test when no libvirtd serves <paramref name="uri"/>, or fails it when scripts/test.sh
    /// has one running (NITRO_LIBVIRTD=required; NITRO_LIBVIRTD_TCP=required for the TCP URI).
    /// </summary>
    public static void RequireDaemon(string uri)
    {
        try
        {
            using var connection = LibvirtConnection.Open(uri);
        }
        catch (Exception ex) when (ex is LibvirtException or DllNotFoundException)
        {
            var message = $"No libvirt daemon answers on {uri} ({ex.Message}). Start one as root: bash scripts/libvirtd.sh start";
            var requirement = uri.StartsWith("qemu+tcp:", StringComparison.Ordinal) ? "NITRO_LIBVIRTD_TCP" : "NITRO_LIBVIRTD";
            if (string.Equals(Environment.GetEnvironmentVariable(requirement), "required", StringComparison.Ordinal))
            {
                Assert.Fail(message);
            }

            Assert.Ignore(message);
        }
    }

    /// <summary>Defines the domain, boots it until the guest waits, snapshots it there and powers it off.</summary>
    /// <param name="workload">Shell text for nitro.workload (';'-separated), or null for the guest's default workload.</param>
    /// <param name="cancellationToken">Cancels the boot.</param>
    /// <param name="plugin">
    /// The built trap plugin: QEMU loads it (<c>-plugin …,ctl=…</c>, no <c>ram=</c>: libvirt's RAM is
    /// anonymous) and opens no gdbstub; null for the gdbstub instead.
    /// </param>
    /// <param name="memoryMiB">The guest's RAM (from 3.5 GiB up, QEMU puts part of it above 4 GiB).</param>
    public static async Task<LocalLibvirtDomain> CreateAsync(string? workload, CancellationToken cancellationToken, string? plugin = null, int memoryMiB = 256)
    {
        var (kernel, initrd) = TestGuest.Default;
        var name = "nitro-test-" + Guid.NewGuid().ToString("N")[..8];
        var domain = new LocalLibvirtDomain(name, System.IO.Directory.CreateTempSubdirectory("nitro-libvirt-").FullName, plugin, memoryMiB);
        try
        {
            var disk = Path.Combine(domain.Directory, "snapshots.qcow2");
            var (code, _, error) = ProcessRunner.Run("qemu-img", TimeSpan.FromSeconds(30), "create", "-q", "-f", "qcow2", disk, "8M");
            Assert.That(code, Is.Zero, "qemu-img create: " + error);

            using var connection = LibvirtConnection.Open(SystemUri);
            using var defined = connection.DefineDomain(domain.Xml(kernel, initrd, disk, workload));
            defined.Create();
            using (var target = LibvirtTraceTarget.Open(connection, name))
            {
                await target.WaitForConsoleAsync("NITRO-WAITING", TimeSpan.FromMinutes(3), cancellationToken);
            }

            defined.CreateSnapshot(SnapshotName);
            defined.Destroy();
            await defined.WaitForStateAsync(DomainState.Shutoff, TimeSpan.FromSeconds(60), cancellationToken);
            return domain;
        }
        catch
        {
            domain.Dispose();
            throw;
        }
    }

    /// <summary>Writes <c>&lt;module&gt;.conf</c> with this domain as machine <c>vm1</c> (reverting to the waiting snapshot).</summary>
    public string WriteConfiguration(string directory, string module, string uri)
    {
        var path = Path.Combine(directory, module + ".conf");
        File.WriteAllText(path, $"""
            [{module}]
            dsn = {uri}
            machines = vm1

            [vm1]
            label = {Name}
            platform = linux
            ip = 192.168.122.10
            snapshot = {SnapshotName}
            """);
        return path;
    }

    /// <summary>Powers the domain off if a failed test left it running.</summary>
    public void PowerOff() => WithDomain(domain => { });

    public void Dispose()
    {
        try
        {
            WithDomain(domain => domain.Undefine());
        }
        finally
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private void WithDomain(Action<LibvirtDomain> afterPowerOff)
    {
        using var connection = LibvirtConnection.Open(SystemUri);
        if (connection.TryLookupDomain(Name, out var domain))
        {
            using (domain)
            {
                if (domain.GetState().State is DomainState.Running or DomainState.Paused)
                {
                    domain.Destroy();
                }

                afterPowerOff(domain);
            }
        }
    }

    private string Xml(string kernel, string initrd, string disk, string? workload)
    {
        XNamespace qemu = TraceableDomainDescription.QemuNamespace;
        var cmdline = "console=ttyS0 quiet panic=-1 nitro.wait" + (workload is null ? string.Empty : $" nitro.workload=\"{workload}\"");
        var xml = new XElement(
            "domain",
            new XAttribute("type", "qemu"),
            new XAttribute(XNamespace.Xmlns + "qemu", qemu.NamespaceName),
            new XElement("name", Name),
            new XElement("memory", new XAttribute("unit", "MiB"), MemoryMiB.ToString(CultureInfo.InvariantCulture)),
            new XElement("vcpu", "1"),
            new XElement(
                "os",
                new XElement("type", new XAttribute("arch", "x86_64"), new XAttribute("machine", "pc"), "hvm"),
                new XElement("kernel", kernel),
                new XElement("initrd", initrd),
                new XElement("cmdline", cmdline)),

            // Without ACPI (libvirt's default passes -no-acpi) the guest's poweroff only halts it.
            new XElement("features", new XElement("acpi")),
            new XElement("on_poweroff", "destroy"),
            new XElement("on_reboot", "destroy"),
            new XElement("on_crash", "destroy"),
            new XElement(
                "devices",
                new XElement(
                    "disk",
                    new XAttribute("type", "file"),
                    new XAttribute("device", "disk"),
                    new XElement("driver", new XAttribute("name", "qemu"), new XAttribute("type", "qcow2")),
                    new XElement("source", new XAttribute("file", disk)),
                    new XElement("target", new XAttribute("dev", "vda"), new XAttribute("bus", "virtio"))),
                new XElement(
                    "serial",
                    new XAttribute("type", "unix"),
                    new XElement("source", new XAttribute("mode", "bind"), new XAttribute("path", Path.Combine(Directory, "console.sock"))),
                    new XElement("log", new XAttribute("file", ConsoleLogPath), new XAttribute("append", "off")),
                    new XElement("target", new XAttribute("port", "0"))),
                new XElement("memballoon", new XAttribute("model", "none"))),

            // QEMU runs as root, so it reads the guest from the build cache under the tester's home.
            new XElement("seclabel", new XAttribute("type", "static"), new XAttribute("model", "dac"), new XAttribute("relabel", "no"), new XElement("label", "+0:+0")),
            new XElement(
                qemu + "commandline",
                new XElement(qemu + "arg", new XAttribute("value", PluginPath is null ? "-gdb" : "-plugin")),
                new XElement(qemu + "arg", new XAttribute("value", PluginPath is null
                    ? $"unix:{Path.Combine(Directory, "gdb.sock")},server=on,wait=off"
                    : $"{PluginPath},ctl={PluginControlPath}"))));
        return xml.ToString();
    }
}
