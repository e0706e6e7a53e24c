using Nitro.Kvm.Libvirt;
using Nitro.Kvm.Machinery;
using Nitro.Kvm.Tests.Libvirt;
using Nitro.Reactive.Machinery;

namespace Nitro.Kvm.Tests.Machinery;

/// <summary>The libvirt machinery on libvirt's real in-process test driver (test:///default).</summary>
[NonParallelizable]
public sealed class LibvirtMachineryTests
{
    private string _conf = null!;

    [SetUp]
    public async Task FreshDriver()
    {
        LibvirtTestDriver.RequireLibvirt();
        Assert.That(await LibvirtTestDriver.WaitForFreshStateAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(DomainState.Running));
        _conf = Directory.CreateTempSubdirectory("nitro-machinery-").FullName;
    }

    [TearDown]
    public void RemoveConf() => Directory.Delete(_conf, recursive: true);

    [Test]
    public async Task Stop_start_status_and_shutdown_drive_the_domain()
    {
        WriteConf("label = test");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        await machinery.InitializeAsync();

        Assert.That(machinery.Machines.Single().Label, Is.EqualTo("test"));
        Assert.That(await machinery.StatusAsync("test"), Is.EqualTo(MachineState.Running));
        await machinery.StopAsync("test");
        Assert.That(await machinery.StatusAsync("test"), Is.EqualTo(MachineState.PoweredOff));
        await machinery.StartAsync("test");
        Assert.That(await machinery.StatusAsync("test"), Is.EqualTo(MachineState.Running));
        var listed = await machinery.ListAsync();
        Assert.That(listed.Single().State, Is.EqualTo(MachineState.Running));

        await machinery.ShutdownAsync();
        Assert.That(await machinery.StatusAsync("test"), Is.EqualTo(MachineState.PoweredOff), "shutdown stops what this machinery started");
    }

    [Test]
    public async Task Starting_a_running_machine_is_refused_with_its_name_and_state()
    {
        WriteConf("label = test");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        await machinery.InitializeAsync();

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.StartAsync("test"));
        Assert.That(error!.Label, Is.EqualTo("test"));
        Assert.That(error.Message, Does.Contain("'test'").And.Contain("Running"));
    }

    [Test]
    public async Task Start_reverts_to_the_configured_snapshot()
    {
        WriteConf("label = test\nsnapshot = clean");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        await machinery.InitializeAsync();
        await machinery.StopAsync("test");
        using (var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri))
        using (var domain = connection.LookupDomain("test"))
        {
            domain.CreateSnapshot("clean");
            domain.CreateSnapshot("later");
            Assert.That(domain.GetCurrentSnapshotName(), Is.EqualTo("later"));
        }

        await machinery.StartAsync("test");

        using (var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri))
        using (var domain = connection.LookupDomain("test"))
        {
            Assert.That(domain.GetCurrentSnapshotName(), Is.EqualTo("clean"), "reverted to the machine's snapshot, not the current one");
            Assert.That(domain.GetState().State, Is.EqualTo(DomainState.Running));
        }
    }

    [Test]
    public async Task A_missing_snapshot_is_an_error_naming_it()
    {
        WriteConf("label = test\nsnapshot = nope");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        await machinery.InitializeAsync();
        await machinery.StopAsync("test");

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.StartAsync("test"));
        Assert.That(error!.Message, Does.Contain("'nope'").And.Contain("'test'"));
    }

    [Test]
    public void A_label_that_is_not_a_domain_fails_initialization_naming_it_and_the_connection()
    {
        WriteConf("label = no-such-domain");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.InitializeAsync());
        Assert.That(error!.Message, Does.Contain("no-such-domain").And.Contain("libvirt at test:///default"));
    }

    [Test]
    public async Task Memory_dump_writes_a_file()
    {
        WriteConf("label = test");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        await machinery.InitializeAsync();
        var path = Path.Combine(_conf, "test.dmp");

        await machinery.DumpMemoryAsync("test", path);

        Assert.That(new FileInfo(path).Length, Is.GreaterThan(0));
    }

    [Test]
    public void A_module_without_dsn_or_default_names_the_missing_key()
    {
        File.WriteAllText(Path.Combine(_conf, "libvirt.conf"), "[libvirt]\nmachines = m1\n\n[m1]\nlabel = test\nplatform = linux\nip = 192.168.56.101\n");
        using var machinery = new LibvirtMachinery(configurationDirectory: _conf);
        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => machinery.InitializeAsync());
        Assert.That(error!.Key, Is.EqualTo("dsn"));
        Assert.That(error.Message, Does.Contain("libvirt.conf"));
    }

    [TestCase(DomainState.Running, MachineState.Running)]
    [TestCase(DomainState.Paused, MachineState.Paused)]
    [TestCase(DomainState.Shutdown, MachineState.PoweredOff)]
    [TestCase(DomainState.Shutoff, MachineState.PoweredOff)]
    [TestCase(DomainState.Crashed, MachineState.Error)]
    [TestCase(DomainState.NoState, MachineState.Error)]
    public void Libvirt_states_map_as_in_cuckoo(DomainState state, MachineState expected) =>
        Assert.That(LibvirtMachinery.ToMachineState(state), Is.EqualTo(expected));

    private void WriteConf(string machineKeys) =>
        File.WriteAllText(Path.Combine(_conf, "libvirt.conf"), $"""
            # libvirt machinery, as in a sandbox's conf/ directory
            [libvirt]
            dsn = test:///default
            interface = virbr0
            machines = m1

            [m1]
            {machineKeys}
            platform = linux
            ip = 192.168.56.101
            tags = x64, linux
            """);
}
