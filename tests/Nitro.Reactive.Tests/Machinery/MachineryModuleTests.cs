using Nitro.Reactive.Machinery;

namespace Nitro.Reactive.Tests.Machinery;

public sealed class MachineryModuleTests
{
    private static readonly string[] AllLabels = ["win7-x64", "win10-x64", "ubuntu-22"];

    private ConfigurationDirectory conf = null!;

    [SetUp]
    public void CreateConfiguration() => conf = new ConfigurationDirectory(ConfigurationDirectory.KvmConf);

    [TearDown]
    public void DeleteConfiguration() => conf.Dispose();

    [Test]
    public async Task Initialize_reads_every_machine_of_a_kvm_conf()
    {
        var machinery = await InitializedAsync();
        var machines = machinery.Machines;

        Assert.That(machines.Select(m => m.Id), Is.EqualTo(new[] { "cuckoo1", "cuckoo2", "ubuntu1" }));
        var (win7, win10, ubuntu) = (machines[0], machines[1], machines[2]);
        Assert.Multiple(() =>
        {
            Assert.That(machinery.Options.GetString("dsn"), Is.EqualTo("qemu:///system"));

            Assert.That(win7.Label, Is.EqualTo("win7-x64"));
            Assert.That(win7.Platform, Is.EqualTo(MachinePlatform.Windows));
            Assert.That(win7.Ip, Is.EqualTo("192.168.122.101"));
            Assert.That(win7.Snapshot, Is.EqualTo("clean"));
            Assert.That(win7.Interface, Is.EqualTo("virbr0"), "defaults to the module's interface");
            Assert.That(win7.ResultServerIp, Is.Null);
            Assert.That(win7.ResultServerPort, Is.Null);
            Assert.That(win7.Tags, Is.EquivalentTo(new[] { "office", "x64" }));
            Assert.That(win7.Arch, Is.EqualTo("x64"));
            Assert.That(win7.Reserved, Is.False);
            Assert.That(win7.Locked, Is.False);

            Assert.That(win10.Label, Is.EqualTo("win10-x64"));
            Assert.That(win10.Snapshot, Is.Null);
            Assert.That(win10.Interface, Is.EqualTo("virbr1"));
            Assert.That(win10.ResultServerIp, Is.EqualTo("192.168.122.1"));
            Assert.That(win10.ResultServerPort, Is.EqualTo(2043));
            Assert.That(win10.Reserved, Is.True);
            Assert.That(win10.Section.Name, Is.EqualTo("cuckoo2"));

            Assert.That(ubuntu.Label, Is.EqualTo("ubuntu-22"));
            Assert.That(ubuntu.Platform, Is.EqualTo(MachinePlatform.Linux));
            Assert.That(ubuntu.Tags, Is.EquivalentTo(new[] { "x64", "docker" }));
            Assert.That(ubuntu.Arch, Is.Null);
            Assert.That(ubuntu.Reserved, Is.False);
        });
    }

    [Test]
    public void A_listed_machine_without_a_section_names_the_machines_key()
    {
        Rewrite("machines = cuckoo1, cuckoo2,", "machines = cuckoo1, ghost, cuckoo2,");

        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => NewMachinery().InitializeAsync());

        Assert.That(error!.Message, Is.EqualTo($"{ConfigurationPath}:3: [kvm] machines: machine 'ghost' is listed but there is no [ghost] section; add one or remove 'ghost' from the list."));
    }

    [Test]
    public void A_missing_label_names_the_machine_section()
    {
        Rewrite("label = win7-x64\n", string.Empty);

        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => NewMachinery().InitializeAsync());

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo($"{ConfigurationPath}:8: [cuckoo1] label: required key is missing; add 'label = ...' to [cuckoo1]."));
            Assert.That(error.Section, Is.EqualTo("cuckoo1"));
            Assert.That(error.Key, Is.EqualTo("label"));
        });
    }

    [Test]
    public void A_missing_platform_names_the_machine_section()
    {
        Rewrite("platform: linux\n", string.Empty);

        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => NewMachinery().InitializeAsync());

        Assert.That(error!.Message, Is.EqualTo($"{ConfigurationPath}:27: [ubuntu1] platform: required key is missing; add 'platform = ...' to [ubuntu1]."));
    }

    [TestCase("resultserver_port = 2043", "resultserver_port = 70000", "23: [cuckoo2] resultserver_port: 70000 is not a TCP port (1-65535).")]
    [TestCase("resultserver_port = 2043", "resultserver_port = high", "23: [cuckoo2] resultserver_port: 'high' is not an integer; write a decimal number such as 2042.")]
    [TestCase("ip = 192.168.122.101", "ip = 192.168.122", "11: [cuckoo1] ip: '192.168.122' is not an IP address.")]
    [TestCase("reserved = yes", "reserved = sometimes", "25: [cuckoo2] reserved: 'sometimes' is not a boolean; write yes/no, true/false, on/off or 1/0.")]
    [TestCase("label: ubuntu-22", "label: win7-x64", "28: [ubuntu1] label: label 'win7-x64' is already used by machine 'cuckoo1'; each machine needs its own.")]
    public void A_malformed_machine_value_is_reported_at_its_line(string from, string to, string message)
    {
        Rewrite(from, to);

        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => NewMachinery().InitializeAsync());

        Assert.That(error!.Message, Is.EqualTo($"{ConfigurationPath}:{message}"));
    }

    [Test]
    public void A_missing_module_section_is_reported()
    {
        Rewrite("[kvm]", "[qemu]");

        var error = Assert.ThrowsAsync<MachineryConfigurationException>(() => NewMachinery().InitializeAsync());

        Assert.That(error!.Message, Is.EqualTo($"{ConfigurationPath}: [kvm] the section is missing; add a '[kvm]' section."));
    }

    [Test]
    public void A_machine_the_hypervisor_does_not_know_fails_initialization()
    {
        var machinery = NewMachinery();
        machinery.Hypervisor.Remove("win10-x64");

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.InitializeAsync());

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo($"kvm: machine 'cuckoo2' (label win10-x64) does not exist in kvm; create it or fix 'label' in [cuckoo2] of {ConfigurationPath}."));
            Assert.That(error.Label, Is.EqualTo("win10-x64"));
            Assert.That(machinery.Machines, Is.Empty);
            Assert.That(() => machinery.Options, Throws.InvalidOperationException);
        });
    }

    [Test]
    public async Task Start_stop_status_and_list_go_through_the_module()
    {
        var machinery = await InitializedAsync();

        await machinery.StartAsync("win7-x64");
        var running = await machinery.StatusAsync("win7-x64");
        await machinery.StopAsync("win7-x64");
        var list = await machinery.ListAsync();

        Assert.Multiple(() =>
        {
            Assert.That(running, Is.EqualTo(MachineState.Running));
            Assert.That(machinery.Calls, Is.EqualTo(new[] { "start win7-x64", "stop win7-x64" }));
            Assert.That(list.Select(s => (s.Machine.Label, s.State)), Is.EqualTo(new[]
            {
                ("win7-x64", MachineState.PoweredOff),
                ("win10-x64", MachineState.PoweredOff),
                ("ubuntu-22", MachineState.PoweredOff),
            }));
        });
    }

    [Test]
    public async Task An_unknown_label_names_the_known_ones()
    {
        var machinery = await InitializedAsync();

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.StartAsync("winxp"));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm: no machine is labelled 'winxp'; known labels: win7-x64, win10-x64, ubuntu-22."));
            Assert.That(error.Label, Is.EqualTo("winxp"));
            Assert.That(machinery.Calls, Is.Empty);
        });
    }

    [Test]
    public async Task A_module_failure_is_wrapped_with_the_machine_name()
    {
        var machinery = await InitializedAsync();
        var cause = new InvalidOperationException("domain is locked by another process");
        machinery.Failures["start ubuntu-22"] = cause;

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.StartAsync("ubuntu-22"));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm: start of machine 'ubuntu1' (label ubuntu-22) failed: domain is locked by another process"));
            Assert.That(error.Label, Is.EqualTo("ubuntu-22"));
            Assert.That(error.InnerException, Is.SameAs(cause));
        });
    }

    [Test]
    public async Task A_machinery_exception_from_the_module_is_not_wrapped_again()
    {
        var machinery = await InitializedAsync();
        var own = new MachineryException("ubuntu-22", "snapshot 'clean' is gone", null);
        machinery.Failures["stop ubuntu-22"] = own;

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.StopAsync("ubuntu-22"));

        Assert.That(error, Is.SameAs(own));
    }

    [Test]
    public async Task Cancellation_is_not_wrapped()
    {
        var machinery = await InitializedAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        machinery.Failures["start ubuntu-22"] = new OperationCanceledException(cancelled.Token);

        Assert.CatchAsync<OperationCanceledException>(() => machinery.StartAsync("ubuntu-22", cancelled.Token));
    }

    [Test]
    public async Task Memory_dumps_are_refused_by_a_module_that_does_not_implement_them()
    {
        var machinery = await InitializedAsync();

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.DumpMemoryAsync("win7-x64", "/tmp/win7.dmp"));

        Assert.That(error!.Message, Is.EqualTo("kvm: memory dumps are not supported by kvm (machine 'cuckoo1', label win7-x64)."));
    }

    [Test]
    public async Task Shutdown_stops_only_the_machines_this_instance_started_and_still_runs()
    {
        var machinery = await InitializedAsync();
        await machinery.StartAsync("win7-x64");
        await machinery.StartAsync("ubuntu-22");
        await machinery.StopAsync("win7-x64");
        machinery.Calls.Clear();

        await machinery.ShutdownAsync();
        var afterFirst = machinery.Calls.ToArray();
        await machinery.ShutdownAsync();

        Assert.Multiple(() =>
        {
            Assert.That(afterFirst, Is.EqualTo(new[] { "stop ubuntu-22" }));
            Assert.That(machinery.Calls, Is.EqualTo(new[] { "stop ubuntu-22" }), "a second shutdown has nothing left to stop");
        });
    }

    [Test]
    public async Task Shutdown_tries_every_machine_and_reports_all_failures()
    {
        var machinery = await InitializedAsync();
        foreach (var label in AllLabels)
        {
            await machinery.StartAsync(label);
        }

        machinery.Failures["stop win7-x64"] = new IOException("socket closed");
        machinery.Failures["stop ubuntu-22"] = new TimeoutException("no answer");
        machinery.Calls.Clear();

        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.ShutdownAsync());

        Assert.Multiple(() =>
        {
            Assert.That(machinery.Calls, Is.EquivalentTo(AllLabels.Select(l => "stop " + l)));
            Assert.That(error!.Message, Does.StartWith("kvm: 2 of 3 started machines failed to stop; stop them by hand:"));
            Assert.That(error.Message, Does.Contain("kvm: stop of machine 'cuckoo1' (label win7-x64) failed: socket closed"));
            Assert.That(error.Message, Does.Contain("kvm: stop of machine 'ubuntu1' (label ubuntu-22) failed: no answer"));
            Assert.That(error.Label, Is.Null);
            Assert.That(((AggregateException)error.InnerException!).InnerExceptions, Has.Count.EqualTo(2));
        });
    }

    [Test]
    public void Initializing_twice_is_refused()
    {
        Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            var machinery = await InitializedAsync();
            await machinery.InitializeAsync();
        });
    }

    internal static async Task<ScriptedMachinery> InitializedAsync(ConfigurationDirectory conf)
    {
        var machinery = new ScriptedMachinery(conf.Path);
        foreach (var label in AllLabels)
        {
            machinery.Hypervisor[label] = MachineState.PoweredOff;
        }

        await machinery.InitializeAsync();
        return machinery;
    }

    private string ConfigurationPath => Path.Combine(conf.Path, "kvm.conf");

    private ScriptedMachinery NewMachinery()
    {
        var machinery = new ScriptedMachinery(conf.Path);
        foreach (var label in AllLabels)
        {
            machinery.Hypervisor[label] = MachineState.PoweredOff;
        }

        return machinery;
    }

    private Task<ScriptedMachinery> InitializedAsync() => InitializedAsync(conf);

    private void Rewrite(string from, string to)
    {
        var text = File.ReadAllText(ConfigurationPath);
        Assert.That(text, Does.Contain(from), "test setup");
        File.WriteAllText(ConfigurationPath, text.Replace(from, to, StringComparison.Ordinal));
    }
}
