using Nitro.Kvm.Machinery;
using Nitro.Reactive.Machinery;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.Machinery;

[Category("Integration")]
[CancelAfter(180_000)]
public sealed class QemuMachineryTests
{
    [Test]
    public async Task Starts_reports_dumps_and_stops_a_guest_from_its_configuration()
    {
        var (kernel, initrd) = TestGuest.Default;
        var conf = Directory.CreateTempSubdirectory("nitro-qemu-conf-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(conf, "qemu.conf"), $"""
                [qemu]
                machines = guest1

                [guest1]
                label = nitro-test-guest
                platform = linux
                ip = 10.0.2.15
                kernel = {kernel}
                initrd = {initrd}
                append = quiet panic=-1 nitro.workload="sleep 60"
                memory = 128
                """);
            await using var machinery = new QemuMachinery(conf);
            await machinery.InitializeAsync();
            Assert.That(await machinery.StatusAsync("nitro-test-guest"), Is.EqualTo(MachineState.PoweredOff));

            await machinery.StartAsync("nitro-test-guest");
            var qemu = machinery.GetRunning("nitro-test-guest");
            await qemu.WaitForConsoleAsync("NITRO-WORKLOAD-START", TimeSpan.FromSeconds(90));
            Assert.That(await machinery.StatusAsync("nitro-test-guest"), Is.EqualTo(MachineState.Running));

            var dump = Path.Combine(conf, "guest1.dump");
            await machinery.DumpMemoryAsync("nitro-test-guest", dump);
            Assert.That(new FileInfo(dump).Length, Is.GreaterThan(128L << 20), "an ELF core with all of guest RAM");

            await machinery.StopAsync("nitro-test-guest");
            Assert.That(await machinery.StatusAsync("nitro-test-guest"), Is.EqualTo(MachineState.PoweredOff));
            Assert.That(qemu.HasExited, Is.True);
        }
        finally
        {
            Directory.Delete(conf, recursive: true);
        }
    }

    [Test]
    public async Task A_missing_kernel_fails_initialization_naming_the_machine()
    {
        var conf = Directory.CreateTempSubdirectory("nitro-qemu-conf-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(conf, "qemu.conf"), "[qemu]\nmachines = g\n\n[g]\nlabel = lost\nplatform = linux\nip = 10.0.2.15\nkernel = /nonexistent/vmlinuz\n");
            await using var machinery = new QemuMachinery(conf);
            var error = Assert.ThrowsAsync<MachineryException>(() => machinery.InitializeAsync());
            Assert.That(error!.Message, Does.Contain("lost"));
        }
        finally
        {
            Directory.Delete(conf, recursive: true);
        }
    }
}
