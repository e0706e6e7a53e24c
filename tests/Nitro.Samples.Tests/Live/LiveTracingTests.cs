using System.Reactive.Linq;
using Nitro.Backends.Linux.Tracing;
using Nitro.Cli.Live;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Boots the real guest under QEMU, traces a program built here, and checks exact facts against
/// what the program itself printed on the console.
/// </summary>
[Category("Integration")]
[NonParallelizable]
[CancelAfter(300_000)]
public sealed class LiveTracingTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(180);

    [Test]
    public async Task Filtered_trace_sees_the_probe_open_write_and_fail_with_exact_values()
    {
        var (calls, report, stats) = await TraceProbeAsync(["openat", "write"]);

        var probe = calls.Where(c => c.Process?.Name == ProbeGuest.ProgramName).ToList();
        Assert.That(probe, Is.Not.Empty, "no call of the probe was traced");
        var process = (LinuxProcess)probe[0].Process!;
        Assert.Multiple(() =>
        {
            Assert.That(process.Pid, Is.EqualTo(report.Pid));
            Assert.That(process.Tgid, Is.EqualTo(report.Pid));
            Assert.That(process.ParentPid, Is.EqualTo(report.ParentPid));
            Assert.That(process.ExecutablePath, Is.EqualTo("/" + ProbeGuest.ProgramName));
        });

        var open = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.FilePath));
        Assert.That(open.ReturnValue, Is.EqualTo(report.Fd));
        Assert.That(open.Entry!.Decoded["flags"], Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC"));
        Assert.That(open.Entry.Decoded["mode"], Is.EqualTo("0640"));

        var write = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "write" && c.Entry?.Decoded["fd"] is long fd && fd == report.Fd);
        Assert.That(write.ReturnValue, Is.EqualTo(report.Wrote).And.EqualTo(ProbeGuest.Message.Length));
        Assert.That(write.Entry!.Decoded["count"], Is.EqualTo((long)ProbeGuest.Message.Length));
        Assert.That(write.Duration, Is.GreaterThan(TimeSpan.Zero));

        var missing = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.MissingPath));
        Assert.That(missing.ReturnValue, Is.EqualTo(-2));
        Assert.That(missing.Decoded["errno"], Is.EqualTo("ENOENT"));

        Assert.That(calls.Select(c => c.Name).Distinct(), Is.SubsetOf(new[] { "openat", "write" }), "only requested calls are reported");
        Assert.That(stats.Traps, Is.LessThanOrEqualTo((calls.Count * 2) + 10), "unrequested calls must not stop the guest");
    }

    [Test]
    public async Task Full_trace_sees_every_call_of_the_probe_from_execve_to_exit_group()
    {
        var (calls, report, stats) = await TraceProbeAsync(null);

        var probe = calls.Where(c => c.Process?.Pid == report.Pid).ToList();
        var names = probe.Where(c => c.Direction == SyscallDirection.Enter).Select(c => c.Name).ToList();
        Assert.That(names, Does.Contain("execve").And.Contain("openat").And.Contain("write").And.Contain("close").And.Contain("exit_group"));
        Assert.That(names.IndexOf("openat"), Is.LessThan(names.LastIndexOf("exit_group")));

        var exec = probe.First(c => c.Direction == SyscallDirection.Enter && c.Name == "execve");
        Assert.That(exec.Decoded["filename"], Is.EqualTo("/" + ProbeGuest.ProgramName));
        var close = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "close" && c.Entry?.Decoded["fd"] is long fd && fd == report.Fd);
        Assert.That(close.ReturnValue, Is.Zero);

        // One trap per entry and per exit: every trap became a call.
        Assert.That(stats.Traps, Is.EqualTo(calls.Count));
        Assert.That(calls.Count(c => c.Direction == SyscallDirection.Exit && c.Entry is not null), Is.GreaterThan(calls.Count / 3));
    }

    [Test]
    public async Task Detaching_early_leaves_the_guest_running_without_breakpoints()
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = Nitro.Kvm.Tracing.ListenerChoice.GdbStub, Kernel = kernel, Initrd = initrd }, CancellationToken.None);
        var first = new TaskCompletionSource<IList<Syscall>>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(null).Take(5).ToList().Subscribe(list => first.TrySetResult(list), ex => first.TrySetException(ex)))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            Assert.That(await first.Task.WaitAsync(s_deadline), Has.Count.EqualTo(5));
        }

        // With a breakpoint left behind the guest would stop at the next call and never finish.
        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.That(end, Does.Contain("status=0"));
        Assert.That(await session.Machine!.WaitForExitAsync(s_deadline), Is.True, "the guest powered off on its own");
    }

    // Full tracing traps the entry itself, where the arguments are live registers; filtered tracing
    // traps __x64_sys_write, which reads its arguments from pt_regs, so the change goes to the saved
    // frame. Either way the probe's write of 17 bytes writes only 5.
    [TestCase(null, TestName = "Changing_an_argument_in_a_synchronous_observer_changes_what_the_guest_does")]
    [TestCase("write", TestName = "Changing_an_argument_at_a_handler_trap_changes_what_the_guest_does")]
    public async Task Changing_an_argument_changes_what_the_guest_does(string? only)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = Nitro.Kvm.Tracing.ListenerChoice.GdbStub, Kernel = kernel, Initrd = initrd }, CancellationToken.None);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var changed = 0;

        using (session.Syscalls(only is null ? null : [only])
            .WhereProcess(ProbeGuest.ProgramName)
            .WhereSyscall("write")
            .WhereDirection(SyscallDirection.Enter)
            .WhereArgument(2, count => count == (ulong)ProbeGuest.Message.Length)
            .Subscribe(call =>
            {
                call.Arguments.Set(2, 5);
                changed++;
            }, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            Assert.That(ProbeReport.Parse(line).Wrote, Is.EqualTo(5), "the guest saw the changed count");
        }

        Assert.That(changed, Is.EqualTo(1));
    }

    [TestCase(null, TestName = "Changing_the_return_value_at_exit_changes_what_the_probe_gets_full_trace")]
    [TestCase("openat", TestName = "Changing_the_return_value_at_exit_changes_what_the_probe_gets_filtered_trace")]
    public async Task Changing_the_return_value_at_exit_changes_what_the_probe_gets(string? only)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = Nitro.Kvm.Tracing.ListenerChoice.GdbStub, Kernel = kernel, Initrd = initrd }, CancellationToken.None);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var changed = new List<Syscall>();

        // The probe's open of a missing file fails with ENOENT; make it "succeed" with 42.
        using (session.Syscalls(only is null ? null : [only])
            .WhereProcess(ProbeGuest.ProgramName)
            .WhereSyscall("openat")
            .WhereDirection(SyscallDirection.Exit)
            .Where(call => Equals(call.Entry?.Decoded["pathname"], ProbeGuest.MissingPath))
            .Subscribe(call =>
            {
                call.SetReturnValue(42);
                changed.Add(call);
            }, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            Assert.That(ProbeReport.Parse(line).Missing, Is.EqualTo(42), "the probe got the changed return value");
        }

        var exit = changed.Single();
        Assert.Multiple(() =>
        {
            Assert.That(exit.ReturnValue, Is.EqualTo(-2), "the call keeps what the kernel returned");
            Assert.That(exit.Event.Handle!.Target, Is.EqualTo(VcpuRegisterTarget.SavedUserFrame), "the exit's handle writes the saved pt_regs");
            Assert.That(exit.Event.Handle.FrameAddress, Is.Not.Zero);
            Assert.Throws<VcpuResumedException>(() => exit.SetReturnValue(7), "the handle refuses use after the vCPU resumed");
        });
    }

    private static async Task<(List<Syscall> Calls, ProbeReport Report, Nitro.Kvm.Listening.GdbStubListenerStatistics Stats)> TraceProbeAsync(string[]? syscalls)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = Nitro.Kvm.Tracing.ListenerChoice.GdbStub, Kernel = kernel, Initrd = initrd }, CancellationToken.None);
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(syscalls).Subscribe(c => calls.Add(c), ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            await done.Task.WaitAsync(s_deadline); // the guest powers off after its workload
            return (calls, ProbeReport.Parse(line), ((Nitro.Kvm.Listening.GdbStubListener)session.Listener).Statistics);
        }
    }
}
