using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Reactive.Events;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Tests.Linq;

public sealed class PairWithExitTests
{
    [Test]
    public async Task PairWithExit_links_exit_to_entry_with_return_value_and_duration()
    {
        var calls = new[]
        {
            Fakes.Call("read", SyscallDirection.Enter, thread: 7, timestamp: 1_000),
            Fakes.Call("read", SyscallDirection.Exit, thread: 7, timestamp: 251_000, rax: 12),
        };

        var completed = await calls.ToObservable().PairWithExit().ToList();

        Assert.That(completed, Has.Count.EqualTo(1));
        Assert.That(completed[0].Entry, Is.SameAs(calls[0]));
        Assert.That(completed[0].ReturnValue, Is.EqualTo(12));
        Assert.That(completed[0].Duration, Is.EqualTo(TimeSpan.FromMicroseconds(250)));
    }

    [Test]
    public async Task PairWithExit_pairs_by_thread_when_threads_are_preempted_on_one_vcpu()
    {
        // Thread 1 enters read on vCPU 0 and is preempted; thread 2 runs write on the same vCPU;
        // thread 1 resumes on vCPU 1 and returns. A per-vCPU stack would mis-pair these.
        var calls = new[]
        {
            Fakes.Call("read", SyscallDirection.Enter, thread: 1, vcpu: 0, timestamp: 10),
            Fakes.Call("write", SyscallDirection.Enter, thread: 2, vcpu: 0, timestamp: 20),
            Fakes.Call("write", SyscallDirection.Exit, thread: 2, vcpu: 0, timestamp: 30, rax: 5),
            Fakes.Call("read", SyscallDirection.Exit, thread: 1, vcpu: 1, timestamp: 40, rax: 100),
        };

        var completed = await calls.ToObservable().PairWithExit().ToList();

        Assert.That(completed.Select(c => (c.Entry!.Name, c.Name, c.ReturnValue)), Is.EqualTo(new[]
        {
            ("write", "write", (long?)5),
            ("read", "read", (long?)100),
        }));
        Assert.That(completed[1].Entry!.Vcpu, Is.Zero);
        Assert.That(completed[1].Vcpu, Is.EqualTo(1));
    }

    [Test]
    public async Task PairWithExit_emits_orphan_exits_unlinked()
    {
        var completed = await new[] { Fakes.Call("read", SyscallDirection.Exit, thread: 3, rax: 1) }.ToObservable().PairWithExit().ToList();
        Assert.That(completed, Has.Count.EqualTo(1));
        Assert.That(completed[0].Entry, Is.Null);
        Assert.That(completed[0].Duration, Is.Null);
    }

    [Test]
    public async Task PairWithExit_reports_entries_that_never_returned()
    {
        var unreturned = new List<string>();
        var calls = new[]
        {
            Fakes.Call("exit_group", SyscallDirection.Enter, thread: 9, timestamp: 1),
            Fakes.Call("read", SyscallDirection.Enter, thread: 9, timestamp: 2), // thread id reused
            Fakes.Call("read", SyscallDirection.Exit, thread: 9, timestamp: 3),
            Fakes.Call("pause", SyscallDirection.Enter, thread: 10, timestamp: 4),
        };

        var completed = await calls.ToObservable().PairWithExit(s => unreturned.Add(s.Name)).ToList();

        Assert.That(completed.Select(c => c.Entry!.Name), Is.EqualTo(new[] { "read" }));
        Assert.That(unreturned, Is.EqualTo(new[] { "exit_group", "pause" }));
    }

    [Test]
    public void PairWithExit_bounds_pending_entries()
    {
        var evicted = 0;
        var subject = new Subject<Syscall>();
        using var _ = subject.PairWithExit(_ => evicted++).Subscribe();
        for (var i = 0; i < Nitro.Reactive.Linq.Internal.ExitPairer.MaxPending + 10; i++)
        {
            subject.OnNext(Fakes.Call("read", thread: i, timestamp: i));
        }

        Assert.That(evicted, Is.EqualTo(10));
    }

    [Test]
    public void PairWithExit_forwards_error()
    {
        var subject = new Subject<Syscall>();
        Exception? error = null;
        using var _ = subject.PairWithExit().Subscribe(_ => { }, ex => error = ex);
        subject.OnError(new TimeoutException());
        Assert.That(error, Is.InstanceOf<TimeoutException>());
    }
}
