using Nitro.Kvm.GdbStub;
using Nitro.Kvm.Qemu;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.GdbStub;

[Category("Integration")]
[CancelAfter(180_000)]
public sealed class GdbRemoteClientQemuTests
{
    private const string KeepAlive = "quiet panic=-1 nitro.workload=\"sleep 60\"";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Test]
    public async Task Paused_machine_exposes_target_xml_reset_registers_and_one_thread_per_vcpu_then_runs_linux()
    {
        var (kernel, initrd) = TestGuest.Default;
        var machine = await QemuMachine.StartAsync(new QemuOptions { Kernel = kernel, Initrd = initrd, Append = KeepAlive, StartPaused = true, Vcpus = 2 });
        try
        {
            await using var gdb = await GdbRemoteClient.ConnectUnixAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(30));
            Assert.That(gdb.AcksEnabled, Is.True, "QEMU 7.2 refuses QStartNoAckMode");
            Assert.That(gdb.TargetXml, Does.Contain("i386:x86-64"));
            var include = GdbRegisterLayout.Includes(gdb.TargetXml);
            Assert.That(include, Is.Not.Empty);
            var features = await gdb.ReadTargetXmlAsync(include[0]);
            Assert.That(features, Does.Contain("name=\"fs_base\"").And.Contain("name=\"k_gs_base\"").And.Contain("name=\"cr3\""));

            var reset = await gdb.ReadRegistersAsync();
            TestContext.Out.WriteLine($"reset: rip={reset[GdbX86Registers.Rip]:x} cs={reset[GdbX86Registers.Cs]:x} eflags={reset[GdbX86Registers.Eflags]:x} cr0={reset[GdbX86Registers.Cr0]:x} rdx={reset[GdbX86Registers.Rdx]:x}; {reset.Count} registers, {reset.Raw.Length} bytes");
            Assert.That(reset[GdbX86Registers.Rip], Is.EqualTo(0xfff0UL));
            Assert.That(reset[GdbX86Registers.Cs], Is.EqualTo(0xf000UL));
            Assert.That(reset[GdbX86Registers.Eflags], Is.EqualTo(0x2UL));
            Assert.That(reset[GdbX86Registers.Cr0], Is.EqualTo(0x60000010UL));
            Assert.That(reset.GetName(GdbX86Registers.KernelGsBase), Is.EqualTo("k_gs_base"));
            Assert.That(await gdb.ReadRegisterAsync(GdbX86Registers.Rip), Is.EqualTo(0xfff0UL));

            Assert.That(await gdb.ListThreadsAsync(), Is.EqualTo(new[] { 1, 2 }));

            await gdb.ContinueAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
            await machine.WaitForConsoleAsync("NITRO-GUEST-READY", Deadline);

            await InterruptAndInspectLinuxAsync(machine, gdb);
            await gdb.ContinueAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
        }
        finally
        {
            await machine.DisposeAsync();
        }
    }

    [Test]
    public async Task Breakpoint_at_the_interrupted_rip_stops_there_and_the_guest_runs_on_after_removal_and_detach()
    {
        var (kernel, initrd) = TestGuest.Default;
        var machine = await QemuMachine.StartAsync(new QemuOptions { Kernel = kernel, Initrd = initrd, Append = KeepAlive });
        try
        {
            await machine.WaitForConsoleAsync("NITRO-GUEST-READY", Deadline);

            // Connecting pauses the guest and QEMU reports the stop unasked.
            await using var gdb = await GdbRemoteClient.ConnectUnixAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(30));
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("paused"));
            await gdb.ContinueAsync();
            var interrupted = await gdb.InterruptAsync();
            var rip = await gdb.ReadRegisterAsync(GdbX86Registers.Rip);
            TestContext.Out.WriteLine($"interrupted vcpu {interrupted.VcpuIndex} at {rip:x}");

            await gdb.InsertBreakpointAsync(rip);
            await gdb.ContinueAsync();
            using var hitDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var hit = await gdb.WaitForStopAsync(hitDeadline.Token);
            Assert.That(hit.Signal, Is.EqualTo(5), "SIGTRAP");
            Assert.That(hit.VcpuIndex, Is.Zero);
            Assert.That(await gdb.ReadRegisterAsync(GdbX86Registers.Rip), Is.EqualTo(rip));

            await gdb.RemoveBreakpointAsync(rip);
            await gdb.ContinueAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
            using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
            {
                Assert.That(async () => await gdb.WaitForStopAsync(quiet.Token), Throws.InstanceOf<OperationCanceledException>(), "no stop without the breakpoint");
            }

            await gdb.InterruptAsync();
            await gdb.DetachAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"), "detach resumes the guest");
        }
        finally
        {
            await machine.DisposeAsync();
        }
    }

    [Test]
    public async Task Tcp_gdbstub_on_loopback_speaks_the_same_protocol()
    {
        var (kernel, initrd) = TestGuest.Default;
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        // A later -gdb replaces QemuMachine's unix-socket gdbstub.
        var options = new QemuOptions { Kernel = kernel, Initrd = initrd, Append = KeepAlive, StartPaused = true };
        options.ExtraArguments.Add("-gdb");
        options.ExtraArguments.Add($"tcp:127.0.0.1:{port}");
        var machine = await QemuMachine.StartAsync(options);
        try
        {
            await using var gdb = await GdbRemoteClient.ConnectTcpAsync("127.0.0.1", port, TimeSpan.FromSeconds(30));
            Assert.That(gdb.Endpoint, Is.EqualTo($"127.0.0.1:{port}"));
            Assert.That(await gdb.ReadRegisterAsync(GdbX86Registers.Rip), Is.EqualTo(0xfff0UL));
            Assert.That(await gdb.ListThreadsAsync(), Is.EqualTo(new[] { 1 }));
        }
        finally
        {
            await machine.DisposeAsync();
        }
    }

    [Test]
    public async Task Register_written_with_P_reads_back_with_p_and_g_and_a_step_moves_rip()
    {
        var (kernel, initrd) = TestGuest.Default;
        // A busy guest: a vCPU halted in the idle loop would not move when stepped.
        var busy = "quiet panic=-1 nitro.workload=\"while :; do :; done\"";
        var machine = await QemuMachine.StartAsync(new QemuOptions { Kernel = kernel, Initrd = initrd, Append = busy });
        try
        {
            await machine.WaitForConsoleAsync("NITRO-WORKLOAD-START", Deadline);
            await using var gdb = await GdbRemoteClient.ConnectUnixAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(30));
            var original = await gdb.ReadRegisterAsync(GdbX86Registers.R15);
            const ulong marker = 0x0123456789abcdef;
            await gdb.WriteRegisterAsync(GdbX86Registers.R15, marker);
            Assert.That(await gdb.ReadRegisterAsync(GdbX86Registers.R15), Is.EqualTo(marker));
            Assert.That((await gdb.ReadRegistersAsync()).ToRegisters().R15, Is.EqualTo(marker));

            await gdb.WriteRegisterAsync(GdbX86Registers.R15, original);
            Assert.That(await gdb.ReadRegisterAsync(GdbX86Registers.R15), Is.EqualTo(original));

            // One instruction on the stopped vCPU: a SIGTRAP stop. A step of a rep-prefixed string
            // instruction (the kernel's rep movs/stos) runs one iteration: rip stays and rcx counts down.
            var rip = await gdb.ReadRegisterAsync(GdbX86Registers.Rip);
            var rcx = await gdb.ReadRegisterAsync(GdbX86Registers.Rcx);
            var moved = rip;
            for (var step = 0; step < 8 && moved == rip; step++)
            {
                await gdb.StepAsync(threadId: 1);
                using var stepDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var stepped = await gdb.WaitForStopAsync(stepDeadline.Token);
                Assert.That((stepped.Signal, stepped.ThreadId), Is.EqualTo((5, 1)));
                moved = await gdb.ReadRegisterAsync(GdbX86Registers.Rip);
            }

            var counted = await gdb.ReadRegisterAsync(GdbX86Registers.Rcx);
            Assert.That(moved != rip || counted < rcx, Is.True, $"single steps move rip (0x{rip:x} -> 0x{moved:x}) or a rep count (0x{rcx:x} -> 0x{counted:x})");
            await gdb.ContinueAsync();
            Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("running"));
        }
        finally
        {
            await machine.DisposeAsync();
        }
    }

    private static async Task InterruptAndInspectLinuxAsync(QemuMachine machine, GdbRemoteClient gdb)
    {
        var stop = await gdb.InterruptAsync();
        Assert.That(stop.Kind, Is.EqualTo(StopKind.Signal));
        Assert.That(stop.Signal, Is.EqualTo(2), "SIGINT");
        Assert.That(stop.VcpuIndex, Is.InRange(0, 1));
        Assert.That(await machine.Qmp.QueryStatusAsync(), Is.EqualTo("paused"));

        var linux = await gdb.ReadRegistersAsync();
        var sregs = linux.ToSpecialRegisters();
        var regs = linux.ToRegisters();
        TestContext.Out.WriteLine($"running linux: vcpu {stop.VcpuIndex} rip={regs.Rip:x} cr3={sregs.Cr3:x} efer={sregs.Efer:x} gs_base={sregs.Gs.Base:x} k_gs_base={linux.KernelGsBase:x}");
        Assert.That(sregs.Cr3, Is.Not.Zero);
        Assert.That(sregs.Efer & 1, Is.EqualTo(1UL), "EFER.SCE is set once Linux runs");
        // Interrupted in the kernel (idle) or, when init is still busy, in user space: the code
        // segment's privilege level says which, and the address must fit it.
        if ((sregs.Cs.Selector & 3) == 0)
        {
            Assert.That(regs.Rip, Is.GreaterThanOrEqualTo(0xffffffff80000000UL), "kernel mode runs at kernel addresses");
        }
        else
        {
            Assert.That(regs.Rip, Is.LessThan(0x0000800000000000UL), "user mode runs at user addresses");
        }
        Assert.That(regs.Rsp, Is.EqualTo(linux[GdbX86Registers.Rsp]));
        Assert.That(regs.Rbp, Is.EqualTo(linux[GdbX86Registers.Rbp]));

        // The other vCPU is reachable too.
        var other = stop.VcpuIndex == 0 ? 2 : 1;
        await gdb.SelectThreadAsync(other);
        var otherRegs = await gdb.ReadRegistersAsync();
        Assert.That(otherRegs.ToSpecialRegisters().Efer & 1, Is.EqualTo(1UL));
    }
}
