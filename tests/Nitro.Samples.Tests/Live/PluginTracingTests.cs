using System.Reactive.Linq;
using Nitro.Backends.Linux.Tracing;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Boots the real guest under QEMU with the trap plugin and traces the probe through the public
/// <see cref="TraceSession"/> API, checking exact facts against what the probe printed.
/// </summary>
[Category("Integration")]
[NonParallelizable]
[CancelAfter(300_000)]
public sealed class PluginTracingTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(180);

    [Test]
    public async Task Plugin_full_trace_sees_every_call_of_the_probe_from_execve_to_exit_group()
    {
        var (calls, report, session) = await TraceProbeAsync(null);

        var probe = calls.Where(c => c.Process?.Pid == report.Pid).ToList();
        var names = probe.Where(c => c.Direction == SyscallDirection.Enter).Select(c => c.Name).ToList();
        Assert.That(names, Does.Contain("execve").And.Contain("openat").And.Contain("write").And.Contain("close").And.Contain("exit_group"));
        var open = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.FilePath));
        Assert.Multiple(() =>
        {
            Assert.That(open.ReturnValue, Is.EqualTo(report.Fd));
            Assert.That(open.Entry!.Decoded["flags"], Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC"));
            Assert.That(((LinuxProcess)open.Process!).ParentPid, Is.EqualTo(report.ParentPid));
            Assert.That(((LinuxProcess)open.Process!).ExecutablePath, Is.EqualTo("/" + ProbeGuest.ProgramName));
            Assert.That(open.Event.Context, Is.Not.Null, "plugin events carry their trap context");
        });
        var missing = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.MissingPath));
        Assert.That(missing.ReturnValue, Is.EqualTo(-2));

        // The first user-mode call of the guest (/init's execve by the kernel aside) is traced: the plugin held /init.
        Assert.That(calls.First(c => c.Direction == SyscallDirection.Enter).Process?.Pid, Is.EqualTo(1));
        var stats = session;
        Assert.That(stats.Lost, Is.Zero);
        Assert.That(stats.Events, Is.EqualTo(stats.Forwarded), "every forwarded trap became an event");
    }

    private static async Task<(List<Syscall> Calls, ProbeReport Report, PluginListenerStatistics Stats)> TraceProbeAsync(string[]? syscalls, PluginDeliveryMode mode = PluginDeliveryMode.Synchronous)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await TraceSession.StartAsync(
            new QemuOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1" },
            LinuxBackendFactory.Default,
            new TraceSessionOptions { Listener = ListenerChoice.Plugin, Plugin = new PluginListenerOptions { Mode = mode } });
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(syscalls).Subscribe(c => calls.Add(c), ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            await done.Task.WaitAsync(s_deadline);
            return (calls, ProbeReport.Parse(line), ((PluginListener)session.Listener).Statistics);
        }
    }
}
