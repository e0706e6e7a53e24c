using System.Diagnostics;
using System.Text;
using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Targets;
using Nitro.Kvm.Tests.Libvirt;
using Nitro.Reactive.Machinery;

namespace Nitro.Kvm.Tests.Machinery;

/// <summary>
/// The KVM and libvirt machinery on a real libvirtd driving a real QEMU (TCG) domain that boots the
/// bundled guest: start from a snapshot, reach the guest, dump it, stop it — over the local socket
/// (qemu:///system) and over TCP (qemu+tcp://127.0.0.1/system).
/// </summary>
[Category("Integration")]
[NonParallelizable]
public sealed class LocalLibvirtdMachineryTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(3);
    private LocalLibvirtDomain _domain = null!;
    private string _conf = null!;

    [OneTimeSetUp]
    public async Task DefineDomain()
    {
        LocalLibvirtDomain.RequireDaemon(LocalLibvirtDomain.SystemUri);
        var clock = Stopwatch.StartNew();
        _domain = await LocalLibvirtDomain.CreateAsync("echo ran-from-snapshot", CancellationToken.None);
        TestContext.Progress.WriteLine($"defined, booted and snapshotted {_domain.Name} in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [OneTimeTearDown]
    public void RemoveDomain() => _domain?.Dispose();

    [SetUp]
    public void Conf()
    {
        _domain.PowerOff();
        _conf = Directory.CreateTempSubdirectory("nitro-libvirtd-conf-").FullName;
    }

    [TearDown]
    public void RemoveConf() => Directory.Delete(_conf, recursive: true);

    [Test]
    [CancelAfter(300_000)]
    public async Task Kvm_machinery_starts_the_domain_from_its_snapshot_and_stops_it(CancellationToken cancellationToken)
    {
        _domain.WriteConfiguration(_conf, "kvm", LocalLibvirtDomain.SystemUri);
        using var machinery = new KvmMachinery(_conf);
        await machinery.InitializeAsync(cancellationToken);
        Assert.That(machinery.Uri, Is.EqualTo(LocalLibvirtDomain.SystemUri));
        Assert.That(await machinery.StatusAsync(_domain.Name, cancellationToken), Is.EqualTo(MachineState.PoweredOff));

        var clock = Stopwatch.StartNew();
        await machinery.StartAsync(_domain.Name, cancellationToken);
        TestContext.Progress.WriteLine($"revert + start: {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.That(await machinery.StatusAsync(_domain.Name, cancellationToken), Is.EqualTo(MachineState.Running));

        var target = (LibvirtTraceTarget)machinery.OpenTraceTarget(_domain.Name);
        Assert.That(target.State.Reason, Is.EqualTo(4), "VIR_DOMAIN_RUNNING_FROM_SNAPSHOT");
        Assert.That(File.Exists(target.GdbSocketPath), Is.True, "QEMU opened the gdbstub socket the XML asked for");
        Assert.That(FindKernelBanner(target), Does.StartWith("Linux version 6.1."), "guest RAM is reachable through the QEMU process");

        // The snapshot holds the guest waiting for a console line: one line runs its workload, after
        // which it powers off and libvirt (on_poweroff = destroy) stops the domain on its own.
        await target.SendConsoleLineAsync(string.Empty, cancellationToken);
        Assert.That(await target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline, cancellationToken), Does.Contain("status=0"));
        Assert.That(File.ReadAllText(_domain.ConsoleLogPath), Does.Contain("ran-from-snapshot"));
        Assert.That(File.ReadAllText(_domain.ConsoleLogPath), Does.Not.Contain("NITRO-GUEST-READY"), "the guest did not boot again: it resumed from the snapshot");
        await WaitForStateAsync(machinery, MachineState.PoweredOff, cancellationToken);

        // A second start reverts again; stop powers it off.
        await machinery.StartAsync(_domain.Name, cancellationToken);
        Assert.That(await machinery.StatusAsync(_domain.Name, cancellationToken), Is.EqualTo(MachineState.Running));
        await machinery.StopAsync(_domain.Name, cancellationToken);
        Assert.That(await machinery.StatusAsync(_domain.Name, cancellationToken), Is.EqualTo(MachineState.PoweredOff));
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task Libvirt_machinery_over_tcp_starts_dumps_and_stops_the_domain(CancellationToken cancellationToken)
    {
        LocalLibvirtDomain.RequireDaemon(LocalLibvirtDomain.TcpUri);
        _domain.WriteConfiguration(_conf, "libvirt", LocalLibvirtDomain.TcpUri);
        using var machinery = new LibvirtMachinery("libvirt", _conf);
        await machinery.InitializeAsync(cancellationToken);
        Assert.That(machinery.Uri, Is.EqualTo(LocalLibvirtDomain.TcpUri));

        var list = await machinery.ListAsync(cancellationToken);
        Assert.That(list.Select(s => (s.Machine.Label, s.Machine.Snapshot, s.State)), Is.EqualTo(new[] { (_domain.Name, (string?)LocalLibvirtDomain.SnapshotName, MachineState.PoweredOff) }));

        var machine = await machinery.AcquireAsync(new MachineRequest { Platform = "linux" }, cancellationToken);
        try
        {
            await machinery.StartAsync(machine.Label, cancellationToken);
            Assert.That(await machinery.StatusAsync(machine.Label, cancellationToken), Is.EqualTo(MachineState.Running));

            // The daemon writes the dump on its host, which is this one.
            var dump = Path.Combine(_conf, "memory.elf");
            await machinery.DumpMemoryAsync(machine.Label, dump, cancellationToken);
            var header = new byte[4];
            await using (var file = File.OpenRead(dump))
            {
                await file.ReadExactlyAsync(header, cancellationToken);
                Assert.That(file.Length, Is.GreaterThan(256L << 20), "a memory-only ELF dump of 256 MiB of RAM");
            }

            Assert.That(header, Is.EqualTo("\u007fELF"u8.ToArray()));

            var target = machinery.OpenTraceTarget(machine.Label);
            Assert.That(target.KernelCommandLine, Does.Contain("nitro.wait"));
            Assert.That(FindKernelBanner(target), Does.StartWith("Linux version 6.1."));

            await machinery.StopAsync(machine.Label, cancellationToken);
            Assert.That(await machinery.StatusAsync(machine.Label, cancellationToken), Is.EqualTo(MachineState.PoweredOff));
        }
        finally
        {
            machinery.Release(machine);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_missing_snapshot_and_a_stopped_machine_are_reported_by_name(CancellationToken cancellationToken)
    {
        File.WriteAllText(Path.Combine(_conf, "kvm.conf"), $"""
            [kvm]
            machines = vm1

            [vm1]
            label = {_domain.Name}
            platform = linux
            ip = 192.168.122.10
            snapshot = no-such-snapshot
            """);
        using var machinery = new KvmMachinery(_conf);
        await machinery.InitializeAsync(cancellationToken);

        var start = Assert.ThrowsAsync<MachineryException>(() => machinery.StartAsync(_domain.Name, cancellationToken));
        Assert.That(start!.Message, Does.Contain("no snapshot 'no-such-snapshot'").And.Contain(LocalLibvirtDomain.SnapshotName));
        Assert.That(await machinery.StatusAsync(_domain.Name, cancellationToken), Is.EqualTo(MachineState.PoweredOff));

        var trace = Assert.Throws<MachineryException>(() => machinery.OpenTraceTarget(_domain.Name));
        Assert.That(trace!.Message, Does.Contain(_domain.Name).And.Contain("Shutoff").And.Contain("start it"));
    }

    private static async Task WaitForStateAsync(MachineryModule machinery, MachineState wanted, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + s_deadline;
        MachineState state;
        while ((state = await machinery.StatusAsync(machinery.Machines[0].Label, cancellationToken)) != wanted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, cancellationToken);
        }

        Assert.That(state, Is.EqualTo(wanted));
    }

    /// <summary>The kernel's version banner ("Linux version …"), searched in guest RAM.</summary>
    private static string FindKernelBanner(ITraceTarget target)
    {
        var needle = "Linux version 6."u8;
        var chunk = new byte[1 << 20];
        Assert.That(target.Memory.Size, Is.EqualTo(256UL << 20), "the RAM size the domain XML declares");
        for (ulong address = 0; address + (ulong)chunk.Length <= target.Memory.Size; address += (ulong)chunk.Length - 256)
        {
            target.Memory.Read(address, chunk);
            var at = chunk.AsSpan().IndexOf(needle);
            if (at >= 0)
            {
                var end = chunk.AsSpan(at).IndexOf((byte)'\n');
                return Encoding.ASCII.GetString(chunk, at, end < 0 ? 64 : Math.Min(end, 200));
            }
        }

        return "(no banner in guest RAM)";
    }
}
