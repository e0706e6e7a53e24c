using System.Reactive.Linq;
using Nitro.Cli.Live;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Boots the real guest with two vCPUs and traces two processes pinned to different CPUs that run
/// at the same time: every call must come from the right vCPU, be attributed to the right process,
/// pair with its own exit, and none may be lost.
/// </summary>
[Category("Integration")]
[NonParallelizable]
[CancelAfter(400_000)]
public sealed class SmpTracingTests
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(240);

    [TestCase(ListenerChoice.GdbStub)]
    [TestCase(ListenerChoice.Plugin)]
    public async Task Full_trace_of_two_pinned_processes_attributes_every_call_to_its_process_and_vcpu(ListenerChoice listener)
    {
        var run = await TraceAsync(null, listener);

        // Every trap became a call, so no event was lost between listener and back end.
        Assert.That(run.Traps, Is.EqualTo(run.Raw.Count));
        AssertEachProbe(run);
    }

    [TestCase(ListenerChoice.GdbStub)]
    [TestCase(ListenerChoice.Plugin)]
    public async Task Filtered_trace_of_two_pinned_processes_attributes_every_call_to_its_process_and_vcpu(ListenerChoice listener)
    {
        var run = await TraceAsync(["openat", "write"], listener);

        Assert.That(run.Raw.Select(c => c.Name).Distinct(), Is.SubsetOf(new[] { "openat", "write" }));
        AssertEachProbe(run);
    }

    private static void AssertEachProbe(SmpRun run)
    {
        TestContext.Out.WriteLine($"{run.Raw.Count} calls ({run.Raw.Count(c => c.Vcpu == 0)} on vCPU 0, {run.Raw.Count(c => c.Vcpu == 1)} on vCPU 1), {run.Paired.Count} completed; {run.Traps} traps");
        Assert.That(run.Raw.Select(c => c.Vcpu).Distinct().Order(), Is.EqualTo(new[] { 0, 1 }), "events come from both vCPUs");

        // The two probes ran at the same time: their rounds overlap in the trace.
        var spans = run.Reports.Select(r => run.Raw.Where(c => c.Process?.Pid == r.Pid && c.Name == "openat").Select(c => c.Event.Timestamp).ToList()).ToList();
        Assert.That(spans[0].Min() < spans[1].Max() && spans[1].Min() < spans[0].Max(), Is.True, "the pinned probes ran concurrently");
        foreach (var report in run.Reports)
        {
            var cpu = report.Cpu;
            var name = SmpProbeGuest.ProgramNames[cpu];
            Assert.Multiple(() =>
            {
                Assert.That(report.Pinned, Is.Zero, $"{name}: sched_setaffinity failed");
                Assert.That(report.Ran, Is.EqualTo(cpu), $"{name} did not run on CPU {cpu}");
                Assert.That(report.Bad, Is.Zero, $"{name}: a write came up short");
            });

            // Entries of this process's own path and byte counts: all there, from its CPU, named after it.
            var opens = run.Raw.Where(c => c.Direction == SyscallDirection.Enter && c.Name == "openat" && Equals(c.Decoded["pathname"], SmpProbeGuest.PathOf(cpu))).ToList();
            var writes = run.Raw.Where(c => c.Direction == SyscallDirection.Enter && c.Name == "write" && c.Process?.Pid == report.Pid && c.Decoded["fd"] is long fd && fd == report.Fd).ToList();
            var expectedCounts = Enumerable.Range(0, SmpProbeGuest.Rounds).Select(round => SmpProbeGuest.CountOf(cpu, round)).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(opens, Has.Count.EqualTo(SmpProbeGuest.Rounds), $"openat entries of {name}");
                Assert.That(opens.Select(c => c.Process?.Pid), Is.All.EqualTo(report.Pid), $"openat of {SmpProbeGuest.PathOf(cpu)} attributed to {name}");
                Assert.That(opens.Select(c => c.Process?.Name), Is.All.EqualTo(name));
                Assert.That(opens.Select(c => c.Vcpu), Is.All.EqualTo(cpu), $"openat entries of {name} on vCPU {cpu}");
                Assert.That(writes.Select(c => (long)c.Arguments[2]), Is.EqualTo(expectedCounts), $"write entries of {name}, in order");
                Assert.That(writes.Select(c => c.Process?.Name), Is.All.EqualTo(name));
                Assert.That(writes.Select(c => c.Vcpu), Is.All.EqualTo(cpu), $"write entries of {name} on vCPU {cpu}");
            });

            // Completed calls from PairWithExit: each exit on the same CPU, with this thread's return value.
            var openExits = run.Paired.Where(c => c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], SmpProbeGuest.PathOf(cpu))).ToList();
            var writeExits = run.Paired.Where(c => c.Name == "write" && c.Entry?.Process?.Pid == report.Pid && c.Entry.Decoded["fd"] is long fd && fd == report.Fd).ToList();
            Assert.Multiple(() =>
            {
                Assert.That(openExits, Has.Count.EqualTo(SmpProbeGuest.Rounds), $"openat exits of {name}");
                Assert.That(openExits.Select(c => c.ReturnValue), Is.All.EqualTo(report.Fd));
                Assert.That(openExits.Select(c => c.Process?.Pid), Is.All.EqualTo(report.Pid));
                Assert.That(openExits.Select(c => c.Vcpu), Is.All.EqualTo(cpu));
                Assert.That(writeExits.Select(c => c.ReturnValue), Is.EqualTo(expectedCounts.Select(n => (long?)n)), $"write exits of {name} return their own counts");
                Assert.That(writeExits.Select(c => c.Process?.Pid), Is.All.EqualTo(report.Pid));
                Assert.That(writeExits.Select(c => c.Vcpu), Is.All.EqualTo(cpu));
            });
        }
    }

    private static async Task<SmpRun> TraceAsync(string[]? syscalls, ListenerChoice listener)
    {
        var (kernel, initrd) = SmpProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Listener = listener, Kernel = kernel, Initrd = initrd, Vcpus = 2 }, CancellationToken.None);
        var raw = new List<Syscall>();
        var paired = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(syscalls)
            .Do(raw.Add)
            .PairWithExit()
            .Subscribe(paired.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            var lines = new[] { 0, 1 }.Select(cpu => session.Target.WaitForConsoleAsync($"SMPPROBE cpu={cpu}", s_deadline)).ToArray();
            await session.ReleaseWorkloadAsync();
            var reports = (await Task.WhenAll(lines)).Select(SmpProbeReport.Parse).ToList();
            await done.Task.WaitAsync(s_deadline); // the guest powers off after its workload
            return new SmpRun(raw, paired, reports, session.Traps);
        }
    }

    private sealed record SmpRun(List<Syscall> Raw, List<Syscall> Paired, List<SmpProbeReport> Reports, long Traps);
}
