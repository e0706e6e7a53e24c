using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Backends;

public sealed class SyscallBackendTests
{
    [Test]
    public async Task Process_decodes_events_into_syscalls_and_counts_them()
    {
        var backend = new TableBackend();
        var events = new[] { Fakes.Event(rax: 0), Fakes.Event(rax: 1), Fakes.Event(rax: 500) }; // 500: not a call we report
        var calls = await backend.Process(events.ToObservable()).ToList();

        Assert.That(calls.Select(c => c.Name), Is.EqualTo(new[] { "read", "write" }));
        var stats = backend.Statistics.Snapshot();
        Assert.That((stats.Events, stats.Syscalls), Is.EqualTo((3L, 2L)));
    }

    [Test]
    public async Task Guest_memory_errors_are_counted_and_the_event_is_still_delivered()
    {
        var backend = new TableBackend();
        var calls = await backend.Process(new[] { Fakes.Event(rax: TableBackend.BadPointer) }.ToObservable()).ToList();

        Assert.That(calls, Has.Count.EqualTo(1));
        Assert.That(calls[0].Name, Is.EqualTo("unknown"));
        Assert.That(calls[0].Number, Is.EqualTo((long)TableBackend.BadPointer));
        Assert.That(backend.Statistics.Snapshot().MemoryErrors, Is.EqualTo(1));
    }

    [Test]
    public void A_decoder_bug_ends_the_stream_with_its_exception()
    {
        var backend = new TableBackend();
        Exception? error = null;
        backend.Process(new[] { Fakes.Event(rax: TableBackend.DecoderBug) }.ToObservable()).Subscribe(_ => { }, ex => error = ex);
        Assert.That(error, Is.InstanceOf<InvalidOperationException>());
    }

    [Test]
    public async Task Hooks_run_on_matching_name_and_direction_before_observers()
    {
        var backend = new TableBackend();
        var order = new List<string>();
        using var hook = backend.DefineHook("read", s => order.Add("hook:" + s.Name));
        using var exitHook = backend.DefineHook("read", s => order.Add("exit-hook"), SyscallDirection.Exit);
        await backend.Process(new[] { Fakes.Event(rax: 0), Fakes.Event(rax: 1) }.ToObservable()).Do(s => order.Add("observer:" + s.Name)).ToList();

        Assert.That(order, Is.EqualTo(new[] { "hook:read", "observer:read", "observer:write" }));
        Assert.That(backend.Statistics.Snapshot().HooksRun, Is.EqualTo(1));
    }

    [Test]
    public async Task Disposing_a_hook_removes_only_that_hook()
    {
        var backend = new TableBackend();
        var a = 0;
        var b = 0;
        var hookA = backend.DefineHook("read", _ => a++);
        using var hookB = backend.DefineHook("read", _ => b++);
        hookA.Dispose();
        hookA.Dispose();
        await backend.Process(new[] { Fakes.Event(rax: 0) }.ToObservable()).ToList();
        Assert.That((a, b), Is.EqualTo((0, 1)));
    }

    [Test]
    public async Task UndefineHook_removes_all_hooks_of_the_name()
    {
        var backend = new TableBackend();
        var runs = 0;
        backend.DefineHook("read", _ => runs++);
        backend.DefineHook("read", _ => runs++);
        Assert.That(backend.UndefineHook("read"), Is.True);
        Assert.That(backend.UndefineHook("read"), Is.False);
        await backend.Process(new[] { Fakes.Event(rax: 0) }.ToObservable()).ToList();
        Assert.That(runs, Is.Zero);
    }

    [Test]
    public async Task A_failing_hook_is_reported_and_the_call_still_flows_under_Report()
    {
        var backend = new TableBackend();
        var failures = new List<HookFailure>();
        using var sub = backend.HookFailures.Subscribe(failures.Add);
        using var hook = backend.DefineHook("read", _ => throw new FormatException("hook bug"));
        var calls = await backend.Process(new[] { Fakes.Event(rax: 0) }.ToObservable()).ToList();

        Assert.That(calls, Has.Count.EqualTo(1));
        Assert.That(failures.Single().Exception, Is.InstanceOf<FormatException>());
        Assert.That(backend.Statistics.Snapshot().HooksFailed, Is.EqualTo(1));
    }

    [Test]
    public void A_failing_hook_ends_the_stream_under_Fail()
    {
        var backend = new TableBackend(HookFailurePolicy.Fail);
        using var hook = backend.DefineHook("read", _ => throw new FormatException("hook bug"));
        Exception? error = null;
        var delivered = 0;
        backend.Process(new[] { Fakes.Event(rax: 0) }.ToObservable()).Subscribe(_ => delivered++, ex => error = ex);
        Assert.That(error, Is.InstanceOf<FormatException>());
        Assert.That(delivered, Is.Zero);
    }

    [Test]
    public void Hooks_see_the_paused_vcpu_and_can_change_arguments()
    {
        var backend = new TableBackend();
        var access = new InMemoryVcpu();
        using var pause = VcpuHandle.Pause(0, access);
        var e = Fakes.Event(rax: 0, rdi: 3, handle: pause.Handle);
        using var hook = backend.DefineHook("read", s => s.Arguments.Set(0, 99));
        using var subject = new Subject<NitroEvent>();
        Syscall? seen = null;
        using var sub = backend.Process(subject).Subscribe(s => seen = s);
        subject.OnNext(e);

        Assert.That(access.Registers.Rdi, Is.EqualTo(99));
        Assert.That(seen!.Arguments.Modified, Is.EqualTo(new[] { 0 }));
        Assert.That(seen.Arguments[0], Is.EqualTo(99));
    }

    [Test]
    public void Statistics_sample_publishes_snapshots()
    {
        var scheduler = new System.Reactive.Concurrency.HistoricalScheduler();
        var backend = new TableBackend();
        var snapshots = new List<Nitro.Reactive.Statistics.StatisticsSnapshot>();
        using var sub = backend.Statistics.Sample(TimeSpan.FromSeconds(1), scheduler).Subscribe(snapshots.Add);
        backend.Process(new[] { Fakes.Event(rax: 0) }.ToObservable()).Subscribe();
        scheduler.AdvanceBy(TimeSpan.FromSeconds(2));
        Assert.That(snapshots, Has.Count.EqualTo(2));
        Assert.That(snapshots[^1].Syscalls, Is.EqualTo(1));
    }

    private sealed class TableBackend(HookFailurePolicy policy = HookFailurePolicy.Report) : SyscallBackend(policy)
    {
        public const ulong BadPointer = 999;
        public const ulong DecoderBug = 666;

        protected override Syscall? Decode(NitroEvent @event)
        {
            var number = @event.Registers.Rax;
            string? name = number switch
            {
                0 => "read",
                1 => "write",
                BadPointer => throw new GuestMemoryException(0xdead000, GuestMemoryFault.NotPresent, 1),
                DecoderBug => throw new InvalidOperationException("decoder bug"),
                _ => null,
            };
            return name is null ? null : new Syscall(@event, (long)number, name, "__x64_sys_" + name, new Process(1, "init"), new ArgumentMap(@event, CallingConvention.LinuxX64, null));
        }
    }
}
