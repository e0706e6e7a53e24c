using System.Reactive.Linq;
using Nitro.Kvm.Listening;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Kvm.Tests.Listening;

// Awaiting a query that ends inside OnNext (Take) would resume on the listener thread while the guest
// is still stopped; OffListenerThread completes the await on the thread pool instead.
[CancelAfter(30_000)]
public sealed class GdbStubListenerTests
{
    private const ulong Entry = 0xffff_ffff_81c0_0080;
    private const ulong Exit = 0xffff_ffff_81c0_0190;
    private const ulong Handler = 0xffff_ffff_8120_0000;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);

    private static TrapPlan FullPlan() => new(
        [new TrapPoint(Entry, TrapRole.SyscallEntry, TrapEmulation.SwapGs, 3)],
        [new TrapPoint(Exit, TrapRole.SyscallExit, TrapEmulation.SwapGs, 3)]);

    [Test]
    public async Task Every_trap_becomes_an_event_and_the_trapped_swapgs_is_emulated()
    {
        var target = new FakeGdbTarget([(0, Entry), (0, 0x1234), (0, Exit), (0, Entry), (0, Exit)]);
        var listener = new GdbStubListener(target);

        var events = await listener.Listen(FullPlan()).Select(e => (e.Direction, e.Registers.Rip, e.SpecialRegisters.Gs.Base)).ToList();

        Assert.That(events.Select(e => e.Direction), Is.EqualTo(new[] { SyscallDirection.Enter, SyscallDirection.Exit, SyscallDirection.Enter, SyscallDirection.Exit }));
        Assert.That(events[0].Rip, Is.EqualTo(Entry));
        Assert.That(events[0].Base, Is.EqualTo(0x7f00_0000_0000UL), "at the entry trap GS still holds the user base");
        Assert.That(events[1].Base, Is.EqualTo(0xffff_8880_0000_0000UL), "emulating swapgs at entry left the kernel base in GS");
        Assert.That(target.Log, Does.Contain($"P:Rip=0x{Entry + 3:x}"));
        Assert.That(target.Log, Does.Contain("P:GsBase=0xffff888000000000"));
        Assert.That(target.Log, Does.Contain("P:KernelGsBase=0x7f0000000000"));
        Assert.That(listener.Statistics.Traps, Is.EqualTo(4));
    }

    [Test]
    public async Task Exit_points_are_armed_only_while_the_gate_is_open()
    {
        var gate = new ExitGate();
        var plan = new TrapPlan(
            [new TrapPoint(Handler, TrapRole.Handler, TrapEmulation.Skip, 5, "openat")],
            [new TrapPoint(Exit, TrapRole.SyscallExit, TrapEmulation.SwapGs, 3)],
            syscallNumbers: [257],
            exitGate: gate);
        // The first exit happens before any requested call: it must not stop the guest.
        var target = new FakeGdbTarget([(0, Exit), (0, Handler), (0, Exit), (0, Exit), (0, Handler), (0, Exit)]);
        var listener = new GdbStubListener(target);

        var events = await listener.Listen(plan)
            .Do(e =>
            {
                if (e.Direction == SyscallDirection.Enter)
                {
                    gate.Enter();
                }
                else
                {
                    gate.Exit();
                }
            })
            .Select(e => e.Direction)
            .ToList();

        Assert.That(events, Is.EqualTo(new[] { SyscallDirection.Enter, SyscallDirection.Exit, SyscallDirection.Enter, SyscallDirection.Exit }));
        Assert.That(listener.Statistics.ExitArmings, Is.EqualTo(4), "armed and disarmed around each requested call");
        Assert.That(target.Log, Does.Contain($"P:Rip=0x{Handler + 5:x}"), "the handler's first instruction is skipped");
        var disarmIndex = target.Log.IndexOf($"z0:0x{Exit:x}");
        Assert.That(disarmIndex, Is.GreaterThan(0));
    }

    [Test]
    public async Task Ia32_points_carry_their_mechanism_and_a_trapped_jmp_or_test_eax_continues_as_the_cpu_would()
    {
        const ulong Int80Entry = 0xffff_ffff_81c0_0c10, Int80Exit = 0xffff_ffff_81c0_0c26, ErrorReturn = 0xffff_ffff_81c0_1630;
        const ulong CompatExit = 0xffff_ffff_81c0_1a49;
        var plan = new TrapPlan(
            [new TrapPoint(Int80Entry, TrapRole.SyscallEntry, TrapEmulation.Skip, 3, Mechanism: SyscallMechanism.Sysenter)],
            [
                new TrapPoint(Int80Exit, TrapRole.SyscallExit, TrapEmulation.Jump, 5, Mechanism: SyscallMechanism.Sysenter) { JumpTarget = ErrorReturn },
                new TrapPoint(CompatExit, TrapRole.SyscallExit, TrapEmulation.TestEaxEax, 2, Mechanism: SyscallMechanism.Sysenter),
            ]);
        var target = new FakeGdbTarget([(0, Int80Entry), (0, Int80Exit), (0, CompatExit)]);
        var listener = new GdbStubListener(target);

        var events = await listener.Listen(plan).Select(e => (e.Direction, e.Mechanism)).ToList();

        Assert.That(events, Is.EqualTo(new[]
        {
            (SyscallDirection.Enter, SyscallMechanism.Sysenter),
            (SyscallDirection.Exit, SyscallMechanism.Sysenter),
            (SyscallDirection.Exit, SyscallMechanism.Sysenter),
        }));
        Assert.That(target.Log, Does.Contain($"P:Rip=0x{Int80Entry + 3:x}"));
        Assert.That(target.Log, Does.Contain($"P:Rip=0x{ErrorReturn:x}"), "a trapped jmp continues at its target");
        Assert.That(target.Log, Does.Not.Contain($"P:Rip=0x{Int80Exit + 5:x}"));
        Assert.That(target.Log, Does.Contain($"P:Rip=0x{CompatExit + 2:x}"));
        Assert.That(target.Log.Count(l => l.StartsWith("P:Eflags=", StringComparison.Ordinal)), Is.EqualTo(1), "only test eax, eax changes the flags");
    }

    [Test]
    public void Disposing_while_the_guest_runs_interrupts_removes_breakpoints_and_resumes()
    {
        var target = new FakeGdbTarget([(0, Entry)], exitAtEnd: false);
        var listener = new GdbStubListener(target);
        using var first = new ManualResetEventSlim();
        var subscription = listener.Listen(FullPlan()).Subscribe(_ => first.Set());
        Assert.That(first.Wait(s_deadline), Is.True);
        Thread.Sleep(50); // the guest now "runs" with nothing left to hit

        subscription.Dispose();

        Assert.That(target.Breakpoints, Is.Empty);
        Assert.That(target.IsRunning, Is.True, "the guest is left running");
        Assert.That(target.Log, Does.Contain("interrupt"));
        Assert.That(target.Log[^1], Is.EqualTo("c"));
    }

    [Test]
    public void An_observer_exception_detaches_and_leaves_the_guest_running_without_breakpoints()
    {
        var target = new FakeGdbTarget([(0, Entry), (0, Exit), (0, Entry)], exitAtEnd: false);
        var listener = new GdbStubListener(target);
        var calls = 0;

        using var _ = listener.Listen(FullPlan()).Subscribe(_ =>
        {
            calls++;
            throw new InvalidOperationException("observer bug");
        });

        Assert.That(SpinWait.SpinUntil(() => target.IsRunning && target.Breakpoints.Count == 0, s_deadline), Is.True);
        Assert.That(calls, Is.EqualTo(1));
        Assert.That(target.Vcpu(0).Registers.Rip, Is.EqualTo(Entry), "with the breakpoint gone the guest runs the real swapgs: no emulation");
    }

    [Test]
    public async Task Taking_a_few_events_detaches_from_inside_the_observer()
    {
        var target = new FakeGdbTarget([(0, Entry), (0, Exit), (0, Entry), (0, Exit)], exitAtEnd: false);
        var listener = new GdbStubListener(target);

        var events = await listener.Listen(FullPlan()).Take(2).ToList().OffListenerThread();

        Assert.That(events, Has.Count.EqualTo(2));
        Assert.That(SpinWait.SpinUntil(() => target.IsRunning && target.Breakpoints.Count == 0, s_deadline), Is.True);
    }

    [Test]
    public async Task A_synchronous_observer_changes_registers_through_the_handle_and_is_refused_afterwards()
    {
        var target = new FakeGdbTarget([(0, Entry), (0, Exit)]);
        var listener = new GdbStubListener(target);
        VcpuHandle? kept = null;

        await listener.Listen(FullPlan()).Take(1).Do(e =>
        {
            var registers = e.Handle!.GetRegisters();
            registers.Rdi = 0xdead;
            e.Handle.SetRegisters(registers);
            kept = e.Handle;
        }).ToList().OffListenerThread();

        Assert.That(target.Vcpu(0).Registers.Rdi, Is.EqualTo(0xdeadUL));
        Assert.That(target.Log, Does.Contain("G"));

        // The awaited result may arrive while the listener thread is still inside OnNext; once it
        // resumes the vCPU the handle must refuse.
        Assert.That(SpinWait.SpinUntil(() => !kept!.IsPaused, s_deadline), Is.True);
        Assert.Throws<VcpuResumedException>(() => kept!.GetRegisters());
    }

    [Test]
    public void A_lost_connection_ends_the_stream_with_an_error()
    {
        var target = new FakeGdbTarget([(0, Entry)], exitAtEnd: false);
        var listener = new GdbStubListener(target);
        Exception? error = null;
        using var done = new ManualResetEventSlim();
        using var first = new ManualResetEventSlim();
        using var _ = listener.Listen(FullPlan()).Subscribe(_ =>
        {
            target.FailNextWait = () => new GdbTargetLostException("socket closed");
            first.Set();
        }, ex => { error = ex; done.Set(); });

        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(error, Is.InstanceOf<GdbTargetLostException>());
    }

    [Test]
    public void Events_carry_the_vcpu_that_trapped()
    {
        var target = new FakeGdbTarget([(1, Entry), (0, Entry), (1, Exit)], vcpus: 2);
        var listener = new GdbStubListener(target);
        var vcpus = listener.Listen(FullPlan()).Select(e => e.Vcpu).ToList().Wait();
        Assert.That(vcpus, Is.EqualTo(new[] { 1, 0, 1 }));
    }

    [Test]
    public void Only_one_attachment_at_a_time()
    {
        var target = new FakeGdbTarget([], exitAtEnd: false);
        var listener = new GdbStubListener(target);
        using var first = listener.Listen(FullPlan()).Subscribe();
        Exception? error = null;
        listener.Listen(FullPlan()).Subscribe(_ => { }, ex => error = ex);
        Assert.That(error, Is.InstanceOf<InvalidOperationException>());
    }

    [Test]
    public async Task Reattaching_after_a_detach_stops_the_running_guest_first()
    {
        // A guest that keeps calling: the first session may step over more traps between Take(1)
        // completing and its subscription's disposal reaching the listener (see the remarks).
        var target = new FakeGdbTarget([(0, Entry), (0, Exit)], exitAtEnd: false, repeat: true);
        var listener = new GdbStubListener(target);
        await listener.Listen(FullPlan()).Take(1).ToList().OffListenerThread();
        Assert.That(SpinWait.SpinUntil(() => target.IsRunning && target.Breakpoints.Count == 0, s_deadline), Is.True);
        var interruptsBefore = target.Log.Count(l => string.Equals(l, "stop:interrupt", StringComparison.Ordinal));

        var second = await RetryWhileAttachedAsync(() => listener.Listen(FullPlan()).Take(2).Select(e => e.Direction).ToList().OffListenerThread());

        Assert.That(second, Has.Count.EqualTo(2));
        Assert.That(target.Log.Count(l => string.Equals(l, "stop:interrupt", StringComparison.Ordinal)), Is.GreaterThan(interruptsBefore), "the running guest was stopped before breakpoints were set again");
        Assert.That(SpinWait.SpinUntil(() => target.IsRunning && target.Breakpoints.Count == 0, s_deadline), Is.True);
    }

    // The first session may still be finishing when the test attaches again.
    private static async Task<T> RetryWhileAttachedAsync<T>(Func<Task<T>> attach)
    {
        var deadline = DateTime.UtcNow + s_deadline;
        while (true)
        {
            try
            {
                return await attach();
            }
            catch (InvalidOperationException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }
        }
    }
}

internal static class ListenerTestExtensions
{
    public static Task<T> OffListenerThread<T>(this IObservable<T> source)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Subscribe(value => completion.TrySetResult(value), ex => completion.TrySetException(ex), () => completion.TrySetCanceled());
        return completion.Task;
    }
}

public sealed class TestAlAlEmulationTests
{
    [TestCase((byte)0x00, 0x246UL)] // ZF and PF set
    [TestCase((byte)0x01, 0x202UL)] // odd parity: nothing but IF and bit 1
    [TestCase((byte)0x03, 0x206UL)] // two bits: PF
    [TestCase((byte)0x80, 0x282UL)] // SF, odd parity
    public void Flags_match_what_the_cpu_computes_for_test_al_al(byte al, ulong expected)
    {
        // Start from flags with CF, AF, OF and a stale ZF set, plus IF (0x200) and the fixed bit 1.
        var before = 0x200UL | 0x2 | 0x1 | 0x10 | 0x800 | 0x40;
        Assert.That(GdbStubListener.TestAlAlFlags(before, al), Is.EqualTo(expected));
    }
}

public sealed class FlagEmulationTests
{
    private const ulong Before = 0x200UL | 0x2 | 0x1 | 0x10 | 0x800 | 0x40;

    [TestCase(0x0000_0000u, 0x246UL)] // ZF, PF
    [TestCase(0x0000_0100u, 0x206UL)] // AL is zero but EAX is not: no ZF; PF from the zero low byte
    [TestCase(0x8000_0000u, 0x286UL)] // SF from bit 31, PF from the zero low byte
    [TestCase(0x0000_0080u, 0x202UL)] // bit 7 is not the sign of EAX; odd parity
    [TestCase(0xffff_fffeu, 0x282UL)] // -2 (-ENOENT): SF; seven bits in the low byte, odd parity
    public void Test_eax_eax_flags_match_what_the_cpu_computes(uint eax, ulong expected) =>
        Assert.That(GdbStubListener.TestEaxEaxFlags(Before, eax), Is.EqualTo(expected));

    [Test]
    public void Clac_clears_only_the_alignment_check_flag()
    {
        Assert.That(GdbStubListener.ClacFlags(0x4_0246UL), Is.EqualTo(0x246UL));
        Assert.That(GdbStubListener.ClacFlags(0x246UL), Is.EqualTo(0x246UL));
    }
}
