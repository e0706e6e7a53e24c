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
    public void Says_what_to_add_when_the_domain_has_neither_the_plugin_nor_a_gdbstub()
    {
        var error = Assert.Throws<FormatException>(() => TraceableDomainDescription.Parse("<domain><name>plain</name><memory>1024</memory></domain>"));
        Assert.That(error!.Message, Does.Contain("'plain' loads no trap plugin and opens no gdbstub")
            .And.Contain("<qemu:arg value='-plugin'/><qemu:arg value='/path/libnitro-trap.so,ctl=/run/nitro/plain.ctl'/>")
            .And.Contain("<qemu:arg value='-gdb'/>"));
    }

    [TestCase("/opt/nitro/libnitro-trap.so,ctl=/run/nitro/vm3.ctl", "/run/nitro/vm3.ctl")]
    [TestCase("file=/opt/nitro/libnitro-trap.so,ctl=/run/nitro/vm3.ctl,hold=on", "/run/nitro/vm3.ctl")]
    [TestCase("/opt/nitro/libnitro-trap.so,arg=ctl=/run/nitro/old.ctl", "/run/nitro/old.ctl")]
    [TestCase("/opt/renamed.so,ram=/dev/shm/ram,ctl=/run/x.ctl", "/run/x.ctl")]
    public void Reads_the_trap_plugin_control_file_and_needs_no_gdbstub_then(string plugin, string control)
    {
        var description = TraceableDomainDescription.Parse($"""
            <domain xmlns:qemu='{Qemu}'>
              <name>vm3</name>
              <memory unit='MiB'>256</memory>
              <qemu:commandline>
                <qemu:arg value='-plugin'/><qemu:arg value='/usr/lib/qemu/plugins/libhowvec.so'/>
                <qemu:arg value='-plugin'/><qemu:arg value='{plugin}'/>
              </qemu:commandline>
            </domain>
            """);

        Assert.That(description.PluginControlPath, Is.EqualTo(control));
        Assert.That(description.GdbSocketPath, Is.Null);
    }

    [Test]
    public void Reads_both_the_plugin_and_the_gdbstub()
    {
        var description = TraceableDomainDescription.Parse($"""
            <domain xmlns:qemu='{Qemu}'><name>vm4</name><memory>1024</memory>
              <qemu:commandline>
                <qemu:arg value='-gdb'/><qemu:arg value='unix:/run/vm4/gdb.sock,server=on,wait=off'/>
                <qemu:arg value='-plugin'/><qemu:arg value='/p/libnitro-trap.so,ctl=/run/vm4/trap.ctl'/>
              </qemu:commandline>
            </domain>
            """);

        Assert.That((description.PluginControlPath, description.GdbSocketPath), Is.EqualTo(("/run/vm4/trap.ctl", "/run/vm4/gdb.sock")));
    }

    [TestCase("<domain xmlns:qemu='" + Qemu + "'><name>t</name><memory>1</memory><qemu:commandline><qemu:arg value='-gdb'/><qemu:arg value='tcp::1234'/></qemu:commandline></domain>", "tracing needs a unix socket")]
    [TestCase("<domain xmlns:qemu='" + Qemu + "'><name>p</name><memory>1</memory><qemu:commandline><qemu:arg value='-plugin'/><qemu:arg value='/p/libnitro-trap.so,hold=on'/></qemu:commandline></domain>", "loads the trap plugin without its control file")]
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
