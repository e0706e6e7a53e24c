using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Nitro.Kvm.GdbStub;
using Nitro.Kvm.Qemu;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.GdbStub;

/// <summary>
/// Round-trip times of the gdbstub client on a live guest (TCG here). Measurements, not checks:
/// run by hand with <c>--filter "FullyQualifiedName~GdbRemoteClientMeasurements"</c> and copy the
/// output into benchmarks/Nitro.Benchmarks/GdbStub/README.md.
/// </summary>
[Explicit("Measurement on a live guest; run by hand")]
[Category("Integration")]
[CancelAfter(300_000)]
public sealed class GdbRemoteClientMeasurements
{
    private const int Iterations = 200;

    // entry_SYSCALL_64 of the Debian 6.1 test kernel with nokaslr (FACTS §3); checked against its swapgs bytes below.
    private const ulong EntrySyscall64 = 0xffffffff81c00080;

    [TestCase(false)]
    [TestCase(true)]
    public async Task Round_trips_and_trap_cycles_on_a_live_guest(bool tcp)
    {
        var transport = tcp ? "tcp" : "unix";
        var (kernel, initrd) = TestGuest.Default;
        var options = new QemuOptions
        {
            Kernel = kernel,
            Initrd = initrd,
            Append = "nokaslr quiet panic=-1 nitro.workload=\"while true; do cat /proc/version >/dev/null; done\"",
        };
        var port = 0;
        if (tcp)
        {
            port = FreePort();
            options.ExtraArguments.Add("-gdb");
            options.ExtraArguments.Add($"tcp:127.0.0.1:{port}");
        }

        var machine = await QemuMachine.StartAsync(options);
        try
        {
            await machine.WaitForConsoleAsync("NITRO-GUEST-READY", TimeSpan.FromSeconds(90));
            await Task.Delay(1000);
            await using var gdb = tcp
                ? await GdbRemoteClient.ConnectTcpAsync("127.0.0.1", port, TimeSpan.FromSeconds(30))
                : await GdbRemoteClient.ConnectUnixAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(30));

            var r15 = await gdb.ReadRegisterAsync(GdbX86Registers.R15);
            await Measure(transport + " g", () => gdb.ReadRegistersAsync());
            await Measure(transport + " p rip", () => gdb.ReadRegisterAsync(GdbX86Registers.Rip));
            await Measure(transport + " P r15", () => gdb.WriteRegisterAsync(GdbX86Registers.R15, r15));
            await Measure(transport + " m 64 bytes", () => gdb.ReadMemoryAsync(EntrySyscall64, 64));

            await MeasureTrapsAsync(gdb, transport);
            await gdb.RemoveBreakpointAsync(EntrySyscall64);
            await gdb.ContinueAsync();
            await Task.Delay(500);
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
            Assert.That(machine.HasExited, Is.False, "the guest survived the emulated swapgs");
        }
        finally
        {
            await machine.DisposeAsync();
        }
    }

    private static async Task MeasureTrapsAsync(GdbRemoteClient gdb, string transport)
    {
        var entry = await gdb.ReadMemoryAsync(EntrySyscall64, 3);
        Assert.That(entry, Is.EqualTo(new byte[] { 0x0f, 0x01, 0xf8 }), "entry_SYSCALL_64 starts with swapgs");

        await gdb.InsertBreakpointAsync(EntrySyscall64);
        await gdb.ContinueAsync();
        await gdb.WaitForStopAsync();

        // Resuming at the breakpoint re-triggers it at once: the pure stop/continue cost.
        await Measure(transport + " bare stop/continue cycle", async () =>
        {
            await gdb.ContinueAsync();
            await gdb.WaitForStopAsync();
        });

        // What the listener does per trap: emulate swapgs, step over it, continue to the next syscall.
        var stopwatch = Stopwatch.StartNew();
        await Measure(transport + " swapgs-emulated trap (stop → 2 p, 3 P → continue → next syscall)", async () =>
        {
            var gs = await gdb.ReadRegisterAsync(GdbX86Registers.GsBase);
            var kgs = await gdb.ReadRegisterAsync(GdbX86Registers.KernelGsBase);
            await gdb.WriteRegisterAsync(GdbX86Registers.GsBase, kgs);
            await gdb.WriteRegisterAsync(GdbX86Registers.KernelGsBase, gs);
            await gdb.WriteRegisterAsync(GdbX86Registers.Rip, EntrySyscall64 + 3);
            await gdb.ContinueAsync();
            var stop = await gdb.WaitForStopAsync();
            Assert.That(stop.Signal, Is.EqualTo(5));
        });
        TestContext.Out.WriteLine($"{transport}: {Iterations / stopwatch.Elapsed.TotalSeconds:0} syscall traps/s");
    }

    private static async Task Measure(string what, Func<Task> operation)
    {
        for (var i = 0; i < 10; i++)
        {
            await operation();
        }

        var samples = new double[Iterations];
        for (var i = 0; i < Iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await operation();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        TestContext.Out.WriteLine($"{what}: median {samples[Iterations / 2]:0} µs, mean {samples.Average():0} µs, p90 {samples[Iterations * 9 / 10]:0} µs, min {samples[0]:0} µs ({Iterations} runs)");
        Assert.That(samples[0], Is.GreaterThan(0));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
