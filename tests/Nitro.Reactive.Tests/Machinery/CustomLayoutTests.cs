using Nitro.Reactive.Machinery;

namespace Nitro.Reactive.Tests.Machinery;

public sealed class CustomLayoutTests
{
    [Test]
    public async Task A_module_can_read_its_own_layout_and_reuse_the_standard_machine_keys()
    {
        using var conf = new ConfigurationDirectory("[kvm]\nlabel = lone\nplatform = linux\nip = 10.0.0.5\nimage = /srv/lone.qcow2\n");
        var machinery = new SingleMachineMachinery(conf.Path);

        await machinery.InitializeAsync();
        var machine = machinery.Machines.Single();

        Assert.Multiple(() =>
        {
            Assert.That(machine.Id, Is.EqualTo("kvm"));
            Assert.That(machine.Label, Is.EqualTo("lone"));
            Assert.That(machine.Section.GetString("image"), Is.EqualTo("/srv/lone.qcow2"));
            Assert.That(machinery.Checked, Is.EqualTo(new[] { "lone" }));
        });
    }

    [Test]
    public async Task Releasing_a_machine_of_another_instance_is_refused()
    {
        using var conf = new ConfigurationDirectory(ConfigurationDirectory.KvmConf);
        var first = await MachineryModuleTests.InitializedAsync(conf);
        var second = await MachineryModuleTests.InitializedAsync(conf);
        var foreign = await first.AcquireAsync(new MachineRequest { Label = "ubuntu-22" });

        var error = Assert.Throws<MachineryException>(() => second.Release(foreign));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm: machine 'ubuntu1' (label ubuntu-22) does not belong to this machinery."));
            Assert.That(foreign.Locked, Is.True);
        });
    }

    /// <summary>One machine described by the module section itself; existence is checked by a custom hook.</summary>
    private sealed class SingleMachineMachinery(string configurationDirectory) : MachineryModule("kvm", configurationDirectory)
    {
        public List<string> Checked { get; } = [];

        protected override IReadOnlyList<Machine> ReadMachines(IniConfiguration configuration)
        {
            var module = configuration.GetSection(ModuleName);
            return [ReadMachine(module, module)];
        }

        protected override Task InitializeMachineAsync(Machine machine, CancellationToken cancellationToken)
        {
            Checked.Add(machine.Label);
            return base.InitializeMachineAsync(machine, cancellationToken);
        }

        protected override Task<bool> ExistsAsync(Machine machine, CancellationToken cancellationToken) => Task.FromResult(true);

        protected override Task StartCoreAsync(Machine machine, CancellationToken cancellationToken) => Task.CompletedTask;

        protected override Task StopCoreAsync(Machine machine, CancellationToken cancellationToken) => Task.CompletedTask;

        protected override Task<MachineState> StatusCoreAsync(Machine machine, CancellationToken cancellationToken) =>
            Task.FromResult(MachineState.Unknown);
    }
}
