using Nitro.Kvm.Libvirt;

namespace Nitro.Kvm.Tests.Libvirt;

[NonParallelizable]
public sealed class LibvirtConnectionTests
{
    [SetUp]
    public void RequireLibvirt() => LibvirtTestDriver.RequireLibvirt();

    [Test]
    public void Open_test_driver_reports_its_uri()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);

        Assert.That(connection.Uri, Is.EqualTo(LibvirtTestDriver.Uri));
    }

    [Test]
    public void Open_unknown_scheme_throws_naming_the_uri()
    {
        var ex = Assert.Throws<LibvirtException>(() => LibvirtConnection.Open("nosuchdriver+unix:///nowhere"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("'nosuchdriver+unix:///nowhere'"));
            Assert.That(ex.Code, Is.Not.Zero);
        });
    }

    [Test]
    public void Default_domain_test_exists_and_runs()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using var domain = connection.LookupDomain(LibvirtTestDriver.DefaultDomain);

        Assert.Multiple(() =>
        {
            Assert.That(domain.Name, Is.EqualTo("test"));
            Assert.That(domain.GetState().State, Is.EqualTo(DomainState.Running));
            Assert.That(domain.Id, Is.EqualTo(1));
        });
    }

    [Test]
    public void LookupDomain_missing_throws_naming_the_domain_and_uri()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);

        var ex = Assert.Throws<LibvirtException>(() => connection.LookupDomain("no-such-vm"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("'no-such-vm'").And.Contain(LibvirtTestDriver.Uri).And.Contain("Domain not found"));
            Assert.That(ex.Code, Is.EqualTo(42), "VIR_ERR_NO_DOMAIN");
            Assert.That(ex.ErrorDomain, Is.EqualTo(12), "VIR_FROM_TEST");
        });
    }

    [Test]
    public void TryLookupDomain_returns_false_for_missing_and_true_for_existing()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);

        var missing = connection.TryLookupDomain("no-such-vm", out var none);
        var found = connection.TryLookupDomain(LibvirtTestDriver.DefaultDomain, out var domain);
        using (domain)
        {
            Assert.Multiple(() =>
            {
                Assert.That(missing, Is.False);
                Assert.That(none, Is.Null);
                Assert.That(found, Is.True);
                Assert.That(domain!.Name, Is.EqualTo("test"));
            });
        }
    }

    [Test]
    public void ListDomains_includes_the_default_domain_running_or_not()
    {
        using var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using (var test = connection.LookupDomain(LibvirtTestDriver.DefaultDomain))
        {
            test.Destroy();
        }

        var domains = connection.ListDomains();
        try
        {
            Assert.That(domains.Select(d => d.Name), Is.EqualTo(new[] { "test" }));
            Assert.That(domains[0].GetState().State, Is.EqualTo(DomainState.Shutoff), "inactive domains are listed too");
        }
        finally
        {
            foreach (var domain in domains)
            {
                domain.Dispose();
            }
        }
    }

    [Test]
    public void Concurrent_connections_share_state_and_it_resets_after_the_last_closes()
    {
        using (var first = LibvirtConnection.Open(LibvirtTestDriver.Uri))
        using (var domain = first.LookupDomain(LibvirtTestDriver.DefaultDomain))
        {
            domain.Suspend();
            using var second = LibvirtConnection.Open(LibvirtTestDriver.Uri);
            using var seen = second.LookupDomain(LibvirtTestDriver.DefaultDomain);
            Assert.That(seen.GetState().State, Is.EqualTo(DomainState.Paused), "second connection sees the first one's change");
        }

        using var fresh = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        using var again = fresh.LookupDomain(LibvirtTestDriver.DefaultDomain);
        Assert.That(again.GetState().State, Is.EqualTo(DomainState.Running), "state is rebuilt once every connection is closed");
    }

    [Test]
    public void Disposed_connection_refuses_lookups()
    {
        var connection = LibvirtConnection.Open(LibvirtTestDriver.Uri);
        connection.Dispose();

        Assert.Throws<ObjectDisposedException>(() => connection.LookupDomain(LibvirtTestDriver.DefaultDomain));
    }
}
