using Nitro.Kvm.Targets;

namespace Nitro.Kvm.Tests.Targets;

/// <summary>Reading what tracing needs out of a libvirt domain's XML.</summary>
public sealed class TraceableDomainDescriptionTests
{
    private const string Qemu = TraceableDomainDescription.QemuNamespace;

    [Test]
    public void Reads_the_gdbstub_memory_command_line_and_serial_console()
    {
        var description = TraceableDomainDescription.Parse($"""
            <domain type='qemu' xmlns:qemu='{Qemu}'>
              <name>vm1</name>
              <memory unit='KiB'>262144</memory>
              <os><type>hvm</type><kernel>/k</kernel><cmdline>console=ttyS0 nitro.wait</cmdline></os>
              <devices>
                <serial type='unix'><source mode='bind' path='/run/vm1/console.sock'/><log file='/run/vm1/console.log' append='off'/><target port='0'/></serial>
                <serial type='pty'><target port='1'/></serial>
              </devices>
              <qemu:commandline><qemu:arg value='-gdb'/><qemu:arg value='unix:/run/vm1/gdb.sock,server=on,wait=off'/></qemu:commandline>
            </domain>
            """);

        Assert.That(description, Is.EqualTo(new TraceableDomainDescription
        {
            Name = "vm1",
            MemoryBytes = 256UL << 20,
            GdbSocketPath = "/run/vm1/gdb.sock",
            KernelCommandLine = "console=ttyS0 nitro.wait",
            ConsoleSocketPath = "/run/vm1/console.sock",
            ConsoleLogPath = "/run/vm1/console.log",
        }));
    }

    [Test]
    public void Follows_a_gdbstub_on_a_named_chardev_and_reads_memory_units()
    {
        var description = TraceableDomainDescription.Parse($"""
            <domain xmlns:qemu='{Qemu}'>
              <name>vm2</name>
              <memory unit='GiB'>2</memory>
              <devices><serial type='pty'/></devices>
              <qemu:commandline>
                <qemu:arg value='-chardev'/><qemu:arg value='socket,id=other,path=/tmp/other.sock,server=on'/>
                <qemu:arg value='-chardev'/><qemu:arg value='socket,id=g0,path=/tmp/gdb0.sock,server=on,wait=off'/>
                <qemu:arg value='-gdb'/><qemu:arg value='chardev:g0'/>
              </qemu:commandline>
            </domain>
            """);

        Assert.That(description.GdbSocketPath, Is.EqualTo("/tmp/gdb0.sock"));
        Assert.That(description.MemoryBytes, Is.EqualTo(2UL << 30));
        Assert.That(description.ConsoleSocketPath, Is.Null, "a pty serial port has no socket");
        Assert.That(description.ConsoleLogPath, Is.Null);
        Assert.That(description.KernelCommandLine, Is.Null);
    }

    [Test]
    public void Says_what_to_add_when_the_domain_has_no_gdbstub()
    {
        var error = Assert.Throws<FormatException>(() => TraceableDomainDescription.Parse("<domain><name>plain</name><memory>1024</memory></domain>"));
        Assert.That(error!.Message, Does.Contain("'plain' declares no gdbstub").And.Contain("<qemu:arg value='-gdb'/>"));
    }

    [TestCase("<domain xmlns:qemu='" + Qemu + "'><name>t</name><memory>1</memory><qemu:commandline><qemu:arg value='-gdb'/><qemu:arg value='tcp::1234'/></qemu:commandline></domain>", "tracing needs a unix socket")]
    [TestCase("<domain><name>m</name><memory unit='parsec'>1</memory></domain>", "unknown memory unit 'PARSEC'")]
    [TestCase("<domain><name>m</name><memory>lots</memory></domain>", "holds 'lots', not a size")]
    [TestCase("<domain><name>m</name></domain>", "has no <memory>")]
    [TestCase("<domain><name>m</name", "malformed")]
    public void Rejects_what_cannot_be_traced_with_a_reason(string xml, string reason)
    {
        var error = Assert.Throws<FormatException>(() => TraceableDomainDescription.Parse(xml));
        Assert.That(error!.Message, Does.Contain(reason));
    }
}
