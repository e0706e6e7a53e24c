using Nitro.Kvm.Nitro;
using Nitro.Kvm.Memory;
using Nitro.Kvm.Qemu;
using Nitro.Reactive.Memory;

using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.Qemu;

[Category("Integration")]
[CancelAfter(120_000)]
public sealed class QemuMachineTests
{
    [Test]
    public async Task Boots_the_guest_exposes_console_qmp_and_shared_memory_and_cleans_up()
    {
        var (kernel, initrd) = TestGuest.Default;
        var machine = await QemuMachine.StartAsync(new QemuOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1" });
        string memoryPath;
        string workDirectory;
        try
        {
            memoryPath = machine.MemoryPath;
            workDirectory = machine.WorkDirectory;
            Assert.That(machine.Accelerator, Is.EqualTo(KvmProbe.IsUsable() ? QemuAccelerator.Kvm : QemuAccelerator.Tcg));
            await machine.WaitForConsoleAsync("NITRO-GUEST-READY", TimeSpan.FromSeconds(60));

            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
            Assert.That(QemuProcessFinder.FromProcessList(machine.Options.Name), Is.EqualTo(machine.Pid), "Nitro's ATTACH_VM needs the QEMU pid");
            Assert.That(QemuProcessFinder.FromProcessList("no-such-guest"), Is.Null);
            var cpus = await machine.Qmp.QueryCpusAsync();
            Assert.That(cpus, Has.Count.EqualTo(1));

            await machine.Qmp.StopAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("paused"));

            // The kernel's banner is in guest RAM: the shared file is guest-physical memory.
            using (var memory = machine.OpenMemory())
            {
                Assert.That(memory.Size, Is.EqualTo(256UL << 20));
                var buffer = new byte[memory.Size];
                memory.Read(0, buffer);
                var banner = buffer.AsSpan().IndexOf("Linux version 6.1"u8);
                Assert.That(banner, Is.GreaterThan(0), "the kernel banner must be found in guest RAM");
            }

            // The fallback source reads the same bytes through /proc/<pid>/mem.
            using (var shared = machine.OpenMemory())
            using (var viaProc = new ProcessMemoryGuestMemory(machine.Pid, ProcessMemoryGuestMemory.FindRam(machine.Pid, shared.Size, machine.MemoryPath), shared.Size))
            {
                var a = new byte[4096];
                var b = new byte[4096];
                for (ulong page = 0; page < shared.Size; page += 16 << 20)
                {
                    shared.Read(page, a);
                    viaProc.Read(page, b);
                    Assert.That(b, Is.EqualTo(a), $"page 0x{page:x}");
                }

                Assert.Throws<GuestMemoryException>(() => viaProc.Read(shared.Size - 8, a));
            }

            var error = Assert.ThrowsAsync<QemuException>(() => machine.Qmp.ExecuteAsync("no-such-command"));
            Assert.That(error!.ErrorClass, Is.EqualTo("CommandNotFound"));
            await machine.Qmp.ContinueAsync();
        }
        finally
        {
            await machine.DisposeAsync();
        }

        Assert.That(machine.HasExited, Is.True);
        Assert.That(File.Exists(memoryPath), Is.False, "the RAM file is removed");
        Assert.That(Directory.Exists(workDirectory), Is.False, "sockets and logs are removed");
    }

    [Test]
    public async Task Guest_runs_its_workload_and_powers_off()
    {
        var (kernel, initrd) = TestGuest.Default;
        await using var machine = await QemuMachine.StartAsync(new QemuOptions
        {
            Kernel = kernel,
            Initrd = initrd,
            Append = "quiet panic=-1 nitro.workload=\"echo from-cmdline-$((6*7))\"",
        });
        var line = await machine.WaitForConsoleAsync("from-cmdline-", TimeSpan.FromSeconds(60));
        Assert.That(line, Does.Contain("from-cmdline-42"));
        Assert.That(await machine.WaitForExitAsync(TimeSpan.FromSeconds(60)), Is.True, "the guest powers off after its workload");
    }

    [Test]
    public void Missing_kernel_is_a_clear_error()
    {
        var error = Assert.ThrowsAsync<QemuException>(() => QemuMachine.StartAsync(new QemuOptions { Kernel = "/nonexistent/vmlinuz" }));
        Assert.That(error!.Message, Does.Contain("/nonexistent/vmlinuz").And.Contain("guest/build.sh"));
    }

    [Test]
    public void Command_line_uses_shared_memory_unix_sockets_and_a_serial_console()
    {
        var args = QemuMachine.BuildArguments(new QemuOptions { Kernel = "k", Initrd = "i", StartPaused = true }, "/w", "/dev/shm/m", QemuAccelerator.Tcg);
        var text = string.Join(' ', args);
        Assert.That(text, Does.Contain("memory-backend-file,id=mem,size=256M,mem-path=/dev/shm/m,share=on"));
        Assert.That(text, Does.Contain("-qmp unix:/w/qmp.sock,server=on,wait=off"));
        Assert.That(text, Does.Contain("-gdb chardev:gdb0"));
        Assert.That(text, Does.Contain("-append console=ttyS0"));
        Assert.That(args[^1], Is.EqualTo("-S"));
    }
}
