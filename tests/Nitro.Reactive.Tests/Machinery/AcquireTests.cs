using Nitro.Reactive.Machinery;

namespace Nitro.Reactive.Tests.Machinery;

public sealed class AcquireTests
{
    private ConfigurationDirectory conf = null!;
    private ScriptedMachinery machinery = null!;

    [SetUp]
    public async Task InitializeAsync()
    {
        conf = new ConfigurationDirectory(ConfigurationDirectory.KvmConf);
        machinery = await MachineryModuleTests.InitializedAsync(conf);
    }

    [TearDown]
    public void DeleteConfiguration() => conf.Dispose();

    [Test]
    public async Task Acquire_by_label_locks_that_machine()
    {
        var machine = await machinery.AcquireAsync(new MachineRequest { Label = "ubuntu-22" });

        Assert.Multiple(() =>
        {
            Assert.That(machine.Id, Is.EqualTo("ubuntu1"));
            Assert.That(machine.Locked, Is.True);
            Assert.That(machinery.Machines.Count(m => m.Locked), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Acquire_by_platform_picks_a_matching_machine()
    {
        var linux = await machinery.AcquireAsync(new MachineRequest { Platform = "Linux" });

        Assert.That(linux.Label, Is.EqualTo("ubuntu-22"));
    }

    [Test]
    public async Task Acquire_by_tags_requires_every_tag()
    {
        var office = await machinery.AcquireAsync(new MachineRequest { Tags = ["x64", "office"] });
        var docker = await machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Linux, Tags = ["docker"] });

        Assert.Multiple(() =>
        {
            Assert.That(office.Label, Is.EqualTo("win7-x64"));
            Assert.That(docker.Label, Is.EqualTo("ubuntu-22"));
        });
    }

    [Test]
    public async Task A_reserved_machine_is_not_acquired_by_platform_or_tags_only_by_label()
    {
        var first = await machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Windows });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var second = machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Windows }, timeout.Token);
        var byLabel = await machinery.AcquireAsync(new MachineRequest { Label = "win10-x64" });

        Assert.Multiple(() =>
        {
            Assert.That(first.Label, Is.EqualTo("win7-x64"));
            Assert.CatchAsync<OperationCanceledException>(() => second, "win10-x64 is reserved: the second Windows request waits");
            Assert.That(byLabel.Label, Is.EqualTo("win10-x64"));
        });
    }

    [Test]
    public void A_request_no_machine_can_match_fails_at_once()
    {
        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Darwin }));

        Assert.That(error!.Message, Is.EqualTo("kvm: no machine matches the request (label=any, platform=darwin, tags=[]); machines: win7-x64, win10-x64, ubuntu-22. Reserved machines are only acquired by label."));
    }

    [Test]
    public void Acquiring_an_unknown_label_names_the_known_ones()
    {
        var error = Assert.ThrowsAsync<MachineryException>(() => machinery.AcquireAsync(new MachineRequest { Label = "win8" }));

        Assert.That(error!.Message, Is.EqualTo("kvm: no machine is labelled 'win8'; known labels: win7-x64, win10-x64, ubuntu-22."));
    }

    [Test]
    public async Task Acquire_waits_for_a_release_when_every_match_is_held()
    {
        var held = await machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Linux });
        var waiting = machinery.AcquireAsync(new MachineRequest { Platform = MachinePlatform.Linux });
        await Task.Delay(50);
        var completedBeforeRelease = waiting.IsCompleted;

        machinery.Release(held);
        var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Multiple(() =>
        {
            Assert.That(completedBeforeRelease, Is.False);
            Assert.That(next, Is.SameAs(held));
            Assert.That(next.Locked, Is.True);
        });
    }

    [Test]
    public async Task A_cancelled_wait_throws_and_leaves_the_machine_to_others()
    {
        var held = await machinery.AcquireAsync(new MachineRequest { Label = "ubuntu-22" });
        using var cancel = new CancellationTokenSource();
        var waiting = machinery.AcquireAsync(new MachineRequest { Label = "ubuntu-22" }, cancel.Token);

        await cancel.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(() => waiting);
        machinery.Release("ubuntu-22");
        var again = await machinery.AcquireAsync(new MachineRequest { Label = "ubuntu-22" });

        Assert.That(again, Is.SameAs(held));
    }

    [Test]
    public async Task Release_makes_the_machine_available_and_a_second_release_is_refused()
    {
        var machine = await machinery.AcquireAsync(new MachineRequest { Label = "win7-x64" });

        machinery.Release("win7-x64");
        var error = Assert.Throws<MachineryException>(() => machinery.Release(machine));
        var again = await machinery.AcquireAsync(new MachineRequest { Label = "win7-x64" });

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm: machine 'cuckoo1' (label win7-x64) is not acquired; release each machine once."));
            Assert.That(again, Is.SameAs(machine));
        });
    }

    [Test]
    public async Task Twenty_concurrent_acquirers_never_share_one_of_three_machines()
    {
        const int Acquirers = 20;
        const int Rounds = 5;
        var startGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holders = new Dictionary<string, int>(StringComparer.Ordinal);
        var sharedLock = new Lock();
        var violations = 0;
        var maxHeld = 0;
        var acquisitions = 0;

        async Task WorkAsync(int worker)
        {
            await startGate.Task;
            for (var round = 0; round < Rounds; round++)
            {
                // Worker 0 asks for the reserved machine by label; the others take whatever is free.
                var request = worker == 0 ? new MachineRequest { Label = "win10-x64" } : MachineRequest.Any;
                var machine = await machinery.AcquireAsync(request);
                lock (sharedLock)
                {
                    if (!holders.TryAdd(machine.Label, worker))
                    {
                        violations++;
                    }

                    maxHeld = Math.Max(maxHeld, holders.Count);
                    acquisitions++;
                }

                await Task.Delay(1);
                lock (sharedLock)
                {
                    holders.Remove(machine.Label);
                }

                machinery.Release(machine);
            }
        }

        var workers = Enumerable.Range(0, Acquirers).Select(w => Task.Run(() => WorkAsync(w))).ToArray();
        startGate.SetResult();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Multiple(() =>
        {
            Assert.That(violations, Is.Zero, "two acquirers held the same machine");
            Assert.That(acquisitions, Is.EqualTo(Acquirers * Rounds));
            Assert.That(maxHeld, Is.InRange(2, 3));
            Assert.That(machinery.Machines.Any(m => m.Locked), Is.False);
        });
    }
}
