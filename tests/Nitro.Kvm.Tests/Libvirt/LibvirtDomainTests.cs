using Nitro.Kvm.Libvirt;

namespace Nitro.Kvm.Tests.Libvirt;

[NonParallelizable]
public sealed class LibvirtDomainTests
{
    private LibvirtConnection? _connection;
    private LibvirtDomain? _domain;

    private LibvirtDomain Domain => _domain!;

    [SetUp]
    public void OpenTestDomain()
    {
        LibvirtTestDriver.RequireLibvirt();
        _connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        _domain = _connection.LookupDomain(LibvirtTestDriver.DefaultDomain);
        Assert.That(_domain.GetState().State, Is.EqualTo(DomainState.Running), "every test starts from a fresh test:///default");
    }

    [TearDown]
    public void Close()
    {
        _domain?.Dispose();
        _connection?.Dispose();
    }

    [Test]
    public void Suspend_pauses_and_resume_runs_again()
    {
        Domain.Suspend();
        var paused = Domain.GetState().State;
        Domain.Resume();

        Assert.Multiple(() =>
        {
            Assert.That(paused, Is.EqualTo(DomainState.Paused));
            Assert.That(Domain.GetState().State, Is.EqualTo(DomainState.Running));
        });
    }

    [Test]
    public void Destroy_shuts_off_and_create_starts_with_a_new_id()
    {
        Domain.Destroy();
        var (off, reason) = Domain.GetState();
        var idWhileOff = Domain.Id;
        Domain.Create();

        Assert.Multiple(() =>
        {
            Assert.That(off, Is.EqualTo(DomainState.Shutoff));
            Assert.That(reason, Is.EqualTo(2), "VIR_DOMAIN_SHUTOFF_DESTROYED");
            Assert.That(idWhileOff, Is.Null);
            Assert.That(Domain.GetState().State, Is.EqualTo(DomainState.Running));
            Assert.That(Domain.Id, Is.EqualTo(2));
        });
    }

    [Test]
    public void Resume_of_a_running_domain_throws_naming_domain_and_operation()
    {
        var ex = Assert.Throws<LibvirtException>(() => Domain.Resume());

        Assert.That(ex!.Message, Does.StartWith("Resuming domain 'test' on test:///default failed: "));
    }

    [Test]
    public async Task WaitForStateAsync_returns_once_the_state_is_reached()
    {
        var destroyer = Task.Run(async () =>
        {
            await Task.Delay(150);
            Domain.Destroy();
        });

        var reason = await Domain.WaitForStateAsync(DomainState.Shutoff, TimeSpan.FromSeconds(5));
        await destroyer;

        Assert.That(reason, Is.EqualTo(2), "VIR_DOMAIN_SHUTOFF_DESTROYED");
    }

    [Test]
    public void WaitForStateAsync_timeout_names_the_last_state_seen()
    {
        Domain.Suspend();

        var ex = Assert.ThrowsAsync<TimeoutException>(() => Domain.WaitForStateAsync(DomainState.Shutoff, TimeSpan.FromMilliseconds(200)));

        Assert.That(ex!.Message, Is.EqualTo("domain 'test' on test:///default did not reach Shutoff within 0.2 s; last state: Paused (reason 1)"));
    }

    [Test]
    public void WaitForStateAsync_honours_cancellation()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        Assert.That(
            async () => await Domain.WaitForStateAsync(DomainState.Shutoff, TimeSpan.FromSeconds(30), cancellation.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void A_new_domain_has_no_snapshots()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Domain.ListSnapshotNames(), Is.Empty);
            Assert.That(Domain.GetCurrentSnapshotName(), Is.Null);
        });
    }

    [Test]
    public void Snapshots_are_listed_and_the_last_one_taken_is_current()
    {
        Domain.CreateSnapshot("clean");
        Domain.CreateSnapshot("second");

        Assert.Multiple(() =>
        {
            Assert.That(Domain.ListSnapshotNames(), Is.EquivalentTo(new[] { "clean", "second" }));
            Assert.That(Domain.GetCurrentSnapshotName(), Is.EqualTo("second"));
        });
    }

    [Test]
    public void RevertToSnapshot_restores_the_state_and_makes_it_current()
    {
        Domain.CreateSnapshot("clean");
        Domain.Suspend();
        Domain.CreateSnapshot("paused");
        Assert.That(Domain.GetState().State, Is.EqualTo(DomainState.Paused));

        Domain.RevertToSnapshot("clean");

        Assert.Multiple(() =>
        {
            Assert.That(Domain.GetCurrentSnapshotName(), Is.EqualTo("clean"));
            Assert.That(Domain.GetState().State, Is.EqualTo(DomainState.Running), "the snapshot was taken while running");
        });
    }

    [Test]
    public void RevertToSnapshot_missing_throws_naming_the_snapshot_and_domain()
    {
        Domain.CreateSnapshot("clean");

        var ex = Assert.Throws<LibvirtException>(() => Domain.RevertToSnapshot("no-such-snapshot"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("snapshot 'no-such-snapshot'").And.Contain("domain 'test'").And.Contain("no domain snapshot with matching name"));
            Assert.That(ex.Code, Is.EqualTo(72), "VIR_ERR_NO_DOMAIN_SNAPSHOT");
        });
    }

    [Test]
    public void CreateSnapshot_escapes_the_name_into_the_xml()
    {
        Domain.CreateSnapshot("a<b>&c");

        Assert.That(Domain.ListSnapshotNames(), Is.EqualTo(new[] { "a<b>&c" }));
    }

    [Test]
    public void CoreDump_writes_a_non_empty_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-libvirt-{Guid.NewGuid():N}.core");
        try
        {
            Domain.CoreDump(path);

            Assert.Multiple(() =>
            {
                Assert.That(File.Exists(path), Is.True);
                Assert.That(new FileInfo(path).Length, Is.GreaterThan(0));
                Assert.That(Domain.GetState().State, Is.EqualTo(DomainState.Running), "a plain dump resumes the domain");
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void CoreDump_memory_only_is_refused_by_the_test_driver_with_libvirts_reason()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-libvirt-{Guid.NewGuid():N}.core");

        var ex = Assert.Throws<LibvirtException>(() => Domain.CoreDump(path, CoreDumpOptions.MemoryOnly));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain(path).And.Contain("MemoryOnly").And.Contain("unsupported flags (0x10)"));
            Assert.That(File.Exists(path), Is.False);
        });
    }

    [Test]
    public void GetXmlDescription_describes_the_domain()
    {
        var xml = System.Xml.Linq.XDocument.Parse(Domain.GetXmlDescription());

        Assert.Multiple(() =>
        {
            Assert.That(xml.Root!.Name.LocalName, Is.EqualTo("domain"));
            Assert.That(xml.Root.Attribute("type")?.Value, Is.EqualTo("test"));
            Assert.That(xml.Root.Element("name")?.Value, Is.EqualTo("test"));
        });
    }

    [Test]
    public void Disposed_domain_refuses_calls()
    {
        Domain.Dispose();

        Assert.Throws<ObjectDisposedException>(() => Domain.GetState());
    }
}
