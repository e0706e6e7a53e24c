using System.Diagnostics;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using Nitro.Backends.Linux.Tracing;
using Nitro.Cli.Live;
using Nitro.Kvm.Plugin;
using Nitro.Kvm.Qemu;
using Nitro.Kvm.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Syscalls;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Boots the real guest under QEMU with the trap plugin and traces it through the public
/// <see cref="TraceSession"/> API, checking exact facts against what the guest's programs printed,
/// against the gdbstub listener, and under faults.
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
        var (calls, report, stats) = await TraceProbeAsync(null);

        var probe = calls.Where(c => c.Process?.Pid == report.Pid).ToList();
        var names = probe.Where(c => c.Direction == SyscallDirection.Enter).Select(c => c.Name).ToList();
        Assert.That(names, Does.Contain("execve").And.Contain("openat").And.Contain("write").And.Contain("close").And.Contain("exit_group"));
        AssertProbeFacts(probe, report);

        // The guest does not wait for the tracer: the plugin held /init's first instruction, so pid 1's first call is traced.
        Assert.That(calls.First(c => c.Direction == SyscallDirection.Enter).Process?.Pid, Is.EqualTo(1));
        Assert.That(stats.Lost, Is.Zero);
        Assert.That(stats.Events, Is.EqualTo(stats.Forwarded), "every forwarded trap became an event");
        Assert.That(stats.Filtered, Is.Zero);
        Assert.That(stats.Resets, Is.EqualTo(1), "one re-translation: the plan's addresses instrumented once, when the first plan arrived");
        Assert.That(calls.SelectMany(c => c.ReadLate), Is.Empty, "synchronous: everything was read while the vCPU waited");
    }

    [Test]
    public async Task Plugin_leaves_no_control_file_when_the_guest_powers_off()
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await StartAsync(kernel, initrd);
        var machine = (QemuMachine)session.Target;
        var control = machine.PluginControlPath!;
        Assert.That(File.Exists(control), Is.True, "the plugin created its control file");
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(["exit_group"]).Subscribe(_ => { }, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await done.Task.WaitAsync(s_deadline);
        }

        Assert.That(await machine.WaitForExitAsync(s_deadline), Is.True);
        Assert.That(File.Exists(control), Is.False, "QEMU's exit ran the plugin's teardown, which removed the file");
    }

    [Test]
    public async Task Plugin_filtered_trace_sees_only_the_requested_calls_with_exact_values()
    {
        var (calls, report, stats) = await TraceProbeAsync(["openat", "write"]);

        Assert.That(calls.Select(c => c.Name).Distinct(), Is.SubsetOf(new[] { "openat", "write" }));
        AssertProbeFacts(calls.Where(c => c.Process?.Pid == report.Pid).ToList(), report);
        Assert.That(stats.Filtered, Is.GreaterThan(stats.Forwarded), "most calls were filtered inside QEMU");
        Assert.That(stats.Forwarded, Is.EqualTo(calls.Count), "only requested calls woke the host");
    }

    [Test]
    public async Task Plugin_streaming_trace_sees_the_same_facts_as_snapshots()
    {
        var (calls, report, stats) = await TraceProbeAsync(null, PluginDeliveryMode.Streaming);

        AssertProbeFacts(calls.Where(c => c.Process?.Pid == report.Pid).ToList(), report);
        Assert.Multiple(() =>
        {
            Assert.That(calls.Select(c => c.Event.Context?.Deferred), Is.All.True, "streamed events say they were decoded late");
            var open = calls.First(c => c.Process?.Pid == report.Pid && c.Name == "openat" && c.Direction == SyscallDirection.Enter);
            Assert.That(open.ReadLate, Is.EqualTo(new[] { "process", "pathname" }), "the process and the path were read after the vCPU went on; the flags came from the frame");
            var write = calls.First(c => c.Process?.Pid == report.Pid && c.Name == "write" && c.Direction == SyscallDirection.Exit);
            Assert.That(write.ReadLate, Is.EqualTo(new[] { "process" }), "a write's exit decodes nothing from memory but its process");
            Assert.That(calls.Select(c => c.Event.Handle), Is.All.Null, "a streamed event has no paused vCPU");
            Assert.That(stats.Lost, Is.Zero);
            Assert.That(stats.Events, Is.EqualTo(stats.Forwarded));
        });
    }

    [TestCase(null, PluginDeliveryMode.Synchronous, TestName = "Plugin_loop_of_N_getppid_calls_yields_exactly_N_entries_and_N_exits_full")]
    [TestCase("getppid", PluginDeliveryMode.Synchronous, TestName = "Plugin_loop_of_N_getppid_calls_yields_exactly_N_entries_and_N_exits_filtered")]
    [TestCase(null, PluginDeliveryMode.Streaming, TestName = "Plugin_loop_of_N_getppid_calls_yields_exactly_N_entries_and_N_exits_streaming")]
    public async Task Plugin_loop_of_N_calls_yields_exactly_N_entries_and_N_exits(string? only, PluginDeliveryMode mode)
    {
        var (kernel, initrd) = LoopProbeGuest.Busy;
        await using var session = await StartAsync(kernel, initrd, mode);
        var entries = 0;
        var exits = 0;
        var paired = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(only is null ? null : [only])
            .WhereProcess(LoopProbeGuest.ProgramName)
            .WhereSyscall("getppid")
            .Do(c => _ = c.Direction == SyscallDirection.Enter ? entries++ : exits++)
            .PairWithExit()
            .Subscribe(c => paired += c.Entry is not null && c.ReturnValue > 0 ? 1 : 0, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            var line = await session.Target.WaitForConsoleAsync("LOOP", s_deadline);
            await done.Task.WaitAsync(s_deadline);
            Assert.That(LoopProbeGuest.Parse(line).Calls, Is.EqualTo(LoopProbeGuest.Calls));
        }

        Assert.Multiple(() =>
        {
            Assert.That(entries, Is.EqualTo(LoopProbeGuest.Calls), "entries");
            Assert.That(exits, Is.EqualTo(LoopProbeGuest.Calls), "exits");
            Assert.That(paired, Is.EqualTo(LoopProbeGuest.Calls), "exits paired with their entry, returning the parent's pid");
            Assert.That(((PluginListener)session.Listener).Statistics.Lost, Is.Zero);
        });
    }

    [Test]
    public async Task Plugin_and_gdbstub_find_the_same_calls_of_a_deterministic_workload()
    {
        // norandmaps: the same addresses in both boots, so decoded pointers compare too.
        var gdb = await TraceProbeWithAsync(ListenerChoice.GdbStub);
        var plugin = await TraceProbeWithAsync(ListenerChoice.Plugin);

        Assert.That(plugin.Report, Is.EqualTo(gdb.Report), "the probe saw the same run");
        Assert.That(plugin.Calls, Is.EqualTo(gdb.Calls), "the probe's calls: direction, name, process, decoded arguments and results");
        Assert.That(plugin.Calls, Has.Count.GreaterThan(20));
    }

    [TestCase(null, TestName = "Plugin_changing_an_argument_and_a_return_value_changes_what_the_probe_does_full")]
    [TestCase("openat,write", TestName = "Plugin_changing_an_argument_and_a_return_value_changes_what_the_probe_does_filtered")]
    public async Task Plugin_changing_an_argument_and_a_return_value_changes_what_the_probe_does(string? only)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await StartAsync(kernel, initrd);
        var handles = new List<VcpuHandle?>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(only?.Split(','))
            .WhereProcess(ProbeGuest.ProgramName)
            .Subscribe(call =>
            {
                if (call.Name == "write" && call.Direction == SyscallDirection.Enter && (ulong)call.Arguments[2] == (ulong)ProbeGuest.Message.Length)
                {
                    call.Arguments.Set(2, 5);
                    handles.Add(call.Event.Handle);
                }
                else if (call.Name == "openat" && call.Direction == SyscallDirection.Exit && Equals(call.Entry?.Decoded["pathname"], ProbeGuest.MissingPath))
                {
                    call.SetReturnValue(42);
                    handles.Add(call.Event.Handle);
                }
            }, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            var report = ProbeReport.Parse(await session.Target.WaitForConsoleAsync("PROBE", s_deadline));
            await done.Task.WaitAsync(s_deadline);
            Assert.Multiple(() =>
            {
                Assert.That(report.Wrote, Is.EqualTo(5), "the guest saw the changed count");
                Assert.That(report.Missing, Is.EqualTo(42), "the probe got the changed return value");
            });
        }

        Assert.That(handles, Has.Count.EqualTo(2));
        Assert.That(handles.Select(h => h?.Target), Is.All.EqualTo(VcpuRegisterTarget.SavedUserFrame));
        Assert.Throws<VcpuResumedException>(() => handles[0]!.GetRegisters(), "the handle refuses use after the vCPU went on");
    }

    [Test]
    public async Task Plugin_two_vcpus_trace_calls_on_both_vcpus_in_parallel()
    {
        var (kernel, initrd) = SmpProbeGuest.Image;
        await using var session = await StartAsync(kernel, initrd, vcpus: 2);
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls().Subscribe(calls.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await done.Task.WaitAsync(s_deadline);
        }

        Assert.That(calls.Select(c => c.Vcpu).Distinct().Order(), Is.EqualTo(new[] { 0, 1 }));
        for (var cpu = 0; cpu < 2; cpu++)
        {
            var writes = calls.Where(c => c.Direction == SyscallDirection.Enter && c.Name == "write" && c.Process?.Name == SmpProbeGuest.ProgramNames[cpu] && (long)c.Arguments[2] >= SmpProbeGuest.FirstCount).ToList();
            Assert.That(writes.Select(c => (long)c.Arguments[2]), Is.EqualTo(Enumerable.Range(0, SmpProbeGuest.Rounds).Select(r => SmpProbeGuest.CountOf(cpu, r))));
            Assert.That(writes.Select(c => c.Vcpu), Is.All.EqualTo(cpu));
        }
    }

    // Streaming: records still in the ring at the detach must not keep the host thread spinning (it once
    // did, and the listener's disposal then unmapped the control file under it).
    [TestCase(PluginDeliveryMode.Synchronous)]
    [TestCase(PluginDeliveryMode.Streaming)]
    public async Task Plugin_detach_and_reattach_while_the_guest_runs_leaves_it_running(PluginDeliveryMode mode)
    {
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        await using var session = await StartAsync(kernel, initrd, mode);
        var first = await session.Syscalls().Take(50).ToList().ToTask().WaitAsync(s_deadline);
        Assert.That(first, Has.Count.EqualTo(50));
        await WaitUntilAsync(() => !((PluginListener)session.Listener).IsAttached, "the first subscription detached");

        // Detached: the guest runs its rounds on; attach again with another plan.
        await session.Target.WaitForConsoleAsync("LOOP", s_deadline);
        var again = await session.Syscalls(["getppid"]).Where(c => c.Direction == SyscallDirection.Exit).Take(LoopProbeGuest.RoundCalls).ToList().ToTask().WaitAsync(s_deadline);
        Assert.That(again.Select(c => c.Name), Is.All.EqualTo("getppid"));
        Assert.That(again.Select(c => c.ReturnValue), Is.All.GreaterThan(0));

        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.That(end, Does.Contain("status=0"));
        Assert.That(await ((QemuMachine)session.Target).WaitForExitAsync(s_deadline), Is.True, "the guest powered off on its own");
    }

    [Test]
    public async Task Plugin_attaches_to_a_guest_that_spins_in_user_mode_by_pausing_and_resuming_it()
    {
        // A shell loop of builtins makes no system call and never idles: the plugin takes a new plan
        // only when the kernel happens to translate new code (here within 0.2-0.4 s, from its timer
        // work), unless the session nudges the guest.
        var (kernel, initrd) = TestGuest.Default;
        var noNudge = Environment.GetEnvironmentVariable("NITRO_TEST_NO_NUDGE") is "1"; // to measure the difference by hand
        await using var session = await TraceSession.StartAsync(
            new QemuOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1 nitro.workload=\"echo SPIN-START; while :; do :; done\"" },
            LinuxBackendFactory.Default,
            new TraceSessionOptions
            {
                Listener = ListenerChoice.Plugin,
                // Nudge at once, so that the test sees the nudge work even when the kernel would have been quick.
                Plugin = new PluginListenerOptions { PlanTimeout = TimeSpan.FromSeconds(30), NudgeAfter = TimeSpan.Zero, NudgeGuest = noNudge ? _ => Task.CompletedTask : null },
            });
        var plugin = (PluginListener)session.Listener;
        _ = await session.Syscalls().Take(5).ToList().ToTask().WaitAsync(s_deadline); // the first plan, taken at the held first instruction
        await WaitUntilAsync(() => !plugin.IsAttached, "the first subscription detached");
        await session.Target.WaitForConsoleAsync("SPIN-START", s_deadline);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var nudges = plugin.Statistics.Nudges;

        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = Stopwatch.StartNew();
        using (session.Syscalls(["getppid"]).Subscribe(_ => { }, ex => failed.TrySetException(ex)))
        {
            await Task.WhenAny(session.WaitUntilAttachedAsync(), failed.Task).WaitAsync(s_deadline);
            TestContext.Out.WriteLine($"attached {clock.ElapsedMilliseconds} ms after subscribing, {plugin.Statistics.Nudges - nudges} nudges");
            Assert.That(failed.Task.IsCompleted, Is.False, () => "the stream failed: " + failed.Task.Exception?.InnerException?.Message);
            if (!noNudge)
            {
                Assert.That(plugin.Statistics.Nudges, Is.GreaterThan(nudges), "the session paused and resumed the guest");
            }

            Assert.That(((QemuMachine)session.Target).HasExited, Is.False, "the guest spins on");
        }

        await WaitUntilAsync(() => !plugin.IsAttached, "the subscription detached");
        Assert.That(plugin.Statistics.Lost, Is.Zero);
    }

    [Test]
    public async Task Plugin_plan_with_other_addresses_is_retranslated_while_the_guest_runs()
    {
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        await using var session = await StartAsync(kernel, initrd);
        var plugin = (PluginListener)session.Listener;
        var backend = (LinuxBackend)session.Backend;
        _ = await session.Syscalls().Take(20).ToList().ToTask().WaitAsync(s_deadline);
        await WaitUntilAsync(() => !plugin.IsAttached, "the first subscription detached");
        var resets = plugin.Statistics.Resets;

        // Only the 64-bit entry and exit, none of the 32-bit gates: other addresses, so the plugin must
        // re-translate the code it instrumented, with the guest running.
        var full = backend.CreatePlan(null, TrapStyle.Callback);
        var narrow = new TrapPlan(
            [.. full.EntryPoints.Where(p => p.Mechanism == SyscallMechanism.Syscall)],
            [.. full.ExitPoints.Where(p => p.Mechanism == SyscallMechanism.Syscall)])
        { Style = TrapStyle.Callback, Frames = full.Frames };
        Assume.That(narrow.EntryPoints.Count + narrow.ExitPoints.Count, Is.LessThan(full.EntryPoints.Count + full.ExitPoints.Count), "this kernel has 32-bit gates");
        var events = await session.Listener.Listen(narrow).Take(100).ToList().ToTask().WaitAsync(s_deadline);

        Assert.Multiple(() =>
        {
            Assert.That(plugin.Statistics.Resets, Is.EqualTo(resets + 1), "one re-translation for the new addresses");
            Assert.That(events.Select(e => e.Context!.Address).Distinct().Select(a => $"0x{a:x}"), Is.SubsetOf(narrow.EntryPoints.Concat(narrow.ExitPoints).Select(p => $"0x{p.Address:x}")), "only the new plan's addresses trap");
        });
        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.That(end, Does.Contain("status=0"));
    }

    [Test]
    public async Task Plugin_observer_that_throws_ends_the_stream_and_the_guest_runs_on()
    {
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        await using var session = await StartAsync(kernel, initrd);
        var plugin = (PluginListener)session.Listener;
        var seen = 0;

        // Rx hands an exception thrown by OnNext back to the producer, not to the same observer's OnError.
        using (session.Syscalls().Subscribe(_ =>
        {
            if (++seen == 100)
            {
                throw new InvalidOperationException("observer fault");
            }
        }))
        {
            await WaitUntilAsync(() => seen >= 100 && !plugin.IsAttached, "the listener detached after the observer threw");
        }

        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.Multiple(() =>
        {
            Assert.That(end, Does.Contain("status=0"), "the guest ran its workload to the end");
            Assert.That(seen, Is.EqualTo(100), "nothing reached the observer after it threw");
            Assert.That(plugin.Statistics.Unattended, Is.GreaterThan(0), "the guest went on through the plugin's callbacks without waiting");
            Assert.That(plugin.Statistics.Lost, Is.Zero);
        });
    }

    [Test]
    public async Task Plugin_qemu_killed_mid_trace_ends_the_stream_and_leaves_no_files()
    {
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        var session = await StartAsync(kernel, initrd);
        var machine = (QemuMachine)session.Target;
        var control = machine.PluginControlPath!;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using (session)
        {
            using (session.Syscalls().Subscribe(_ => Interlocked.Increment(ref calls), ex => done.TrySetException(ex), () => done.TrySetResult()))
            {
                await session.Target.WaitForConsoleAsync("LOOP", s_deadline);
                System.Diagnostics.Process.GetProcessById(machine.Pid).Kill();
                await done.Task.WaitAsync(s_deadline); // the guest is gone with its QEMU: the stream completes
            }

            Assert.That(calls, Is.GreaterThan(0));
        }

        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(control), Is.False, "the plugin's control file");
            Assert.That(File.Exists(machine.MemoryPath), Is.False, "the guest RAM file");
        });
    }

    [Test]
    public async Task Plugin_host_process_killed_mid_trace_lets_the_guest_run_on()
    {
        // The guest's rounds last ~5 s: the other host must be ready to attach before they end.
        FakeHost.EnsureBuilt();
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        await using var session = await StartAsync(kernel, initrd);
        var plugin = (PluginListener)session.Listener;
        _ = await session.Syscalls().Take(10).ToList().ToTask().WaitAsync(s_deadline);

        // Take(10) completes on the listener thread, before the subscription is disposed.
        await WaitUntilAsync(() => !plugin.IsAttached, "this host detached");

        // Another host process attaches (the plan stays in place), never answers, and is killed.
        // Counted before the other host attaches: the guest's next trap goes to it at once, and then waits.
        var before = plugin.Statistics;
        using var host = FakeHost.Start(plugin.ControlPath);
        await WaitUntilAsync(() => plugin.Statistics.Forwarded > before.Forwarded || session.Target.HasExited, "a trap was handed to the other host");
        Assert.That(session.Target.HasExited, Is.False, "the guest's rounds ended before the other host attached: nothing left to trap");
        host.Kill();
        await WaitUntilAsync(() => plugin.Statistics.HostLost > before.HostLost, "the plugin noticed that the host is gone");

        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.That(end, Does.Contain("status=0"));
        Assert.That(plugin.Statistics.Lost, Is.GreaterThan(before.Lost), "the unanswered trap is counted as lost");
    }

    [Test]
    public async Task Plugin_hostile_frame_locations_give_undecodable_calls_and_the_guest_runs_on()
    {
        var (kernel, initrd) = LoopProbeGuest.Rounds;
        await using var session = await StartAsync(kernel, initrd);
        var backend = (LinuxBackend)session.Backend;
        var plan = backend.CreatePlan(null, TrapStyle.Callback);
        var good = plan.Frames!;

        // The frame path leads through an unmapped kernel address; the task path loops through a pointer to itself.
        var hostile = new SavedFrameLocator(good.KernelPageTableRoot, good.PerVcpuTable, new GuestPointerPath([0x7fff_0000_0000], -168), new GuestPointerPath([0, 0, 0, 0]), good.AddressSpace, good.AddressSpaceBias, good.Layout);
        var bad = new TrapPlan(plan.EntryPoints, plan.ExitPoints) { Style = TrapStyle.Callback, Frames = hostile };
        var calls = await backend.Process(session.Listener.Listen(bad)).Take(200).ToList().ToTask().WaitAsync(s_deadline);

        Assert.Multiple(() =>
        {
            Assert.That(calls.Select(c => c.Name), Is.All.EqualTo("unknown"));
            Assert.That(calls.Select(c => c.Event.Context?.FrameAddress), Is.All.EqualTo(0UL));
            Assert.That(backend.Statistics.Snapshot().MemoryErrors, Is.GreaterThanOrEqualTo(200));
            Assert.That(((PluginListener)session.Listener).Statistics.MemoryErrors, Is.GreaterThan(0));
        });
        var end = await session.Target.WaitForConsoleAsync("NITRO-WORKLOAD-END", s_deadline);
        Assert.That(end, Does.Contain("status=0"));
    }

    private static void AssertProbeFacts(List<Syscall> probe, ProbeReport report)
    {
        var open = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.FilePath));
        var process = (LinuxProcess)open.Process!;
        Assert.Multiple(() =>
        {
            Assert.That(open.ReturnValue, Is.EqualTo(report.Fd));
            Assert.That(open.Entry!.Decoded["flags"], Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC"));
            Assert.That(open.Entry.Decoded["mode"], Is.EqualTo("0640"));
            Assert.That(process.ParentPid, Is.EqualTo(report.ParentPid));
            Assert.That(process.ExecutablePath, Is.EqualTo("/" + ProbeGuest.ProgramName));
            Assert.That(open.Event.Context, Is.Not.Null, "plugin events carry their trap context");
        });
        var write = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "write" && c.Entry?.Decoded["fd"] is long fd && fd == report.Fd);
        Assert.That(write.ReturnValue, Is.EqualTo(ProbeGuest.Message.Length));
        var missing = probe.Single(c => c.Direction == SyscallDirection.Exit && c.Name == "openat" && Equals(c.Entry?.Decoded["pathname"], ProbeGuest.MissingPath));
        Assert.That(missing.ReturnValue, Is.EqualTo(-2));
        Assert.That(missing.Decoded["errno"], Is.EqualTo("ENOENT"));
    }

    private static Task<TraceSession> StartAsync(string kernel, string initrd, PluginDeliveryMode mode = PluginDeliveryMode.Synchronous, int vcpus = 1) =>
        TraceSession.StartAsync(
            new QemuOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1", Vcpus = vcpus },
            LinuxBackendFactory.Default,
            new TraceSessionOptions { Listener = ListenerChoice.Plugin, Plugin = new PluginListenerOptions { Mode = mode } });

    private static async Task<(List<Syscall> Calls, ProbeReport Report, PluginListenerStatistics Stats)> TraceProbeAsync(string[]? syscalls, PluginDeliveryMode mode = PluginDeliveryMode.Synchronous)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await StartAsync(kernel, initrd, mode);
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(syscalls).Subscribe(calls.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            await done.Task.WaitAsync(s_deadline);
            return (calls, ProbeReport.Parse(line), ((PluginListener)session.Listener).Statistics);
        }
    }

    /// <summary>The probe's own calls as comparable text, traced through the CLI's session with the given listener.</summary>
    private static async Task<(List<string> Calls, ProbeReport Report)> TraceProbeWithAsync(ListenerChoice listener)
    {
        var (kernel, initrd) = ProbeGuest.Image;
        await using var session = await LiveSession.StartAsync(new LiveSessionOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1 norandmaps", Listener = listener }, CancellationToken.None);
        var calls = new List<Syscall>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (session.Syscalls(null).Subscribe(calls.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
        {
            await session.WaitUntilAttachedAsync();
            await session.ReleaseWorkloadAsync();
            var line = await session.Target.WaitForConsoleAsync("PROBE", s_deadline);
            await done.Task.WaitAsync(s_deadline);
            var report = ProbeReport.Parse(line);
            return ([.. calls.Where(c => c.Process?.Pid == report.Pid).Select(Describe)], report);
        }
    }

    private static string Describe(Syscall c) =>
        $"{c.Direction} {c.Name} {c.Process?.Name}/{c.Process?.Pid} ret={c.ReturnValue} {string.Join(", ", c.Decoded.Select(p => $"{p.Key}={Format(p.Value)}"))}";

    private static string Format(object? value) => value is System.Collections.IEnumerable e and not string ? string.Join('|', e.Cast<object?>()) : value?.ToString() ?? "null";

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.That(clock.Elapsed, Is.LessThan(s_deadline), what);
            await Task.Delay(20);
        }
    }
}
