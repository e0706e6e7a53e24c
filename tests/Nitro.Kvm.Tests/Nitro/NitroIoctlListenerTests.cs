using System.Reactive.Linq;
using Nitro.Kvm.Nitro;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Kvm.Tests.Nitro;

[CancelAfter(30_000)]
public sealed class NitroIoctlListenerTests
{
    private const int QemuPid = 4242;
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);

    private static TrapPlan All() => new([], []);

    [Test]
    public void Events_of_every_vcpu_arrive_serialized_with_their_vcpu_and_each_vcpu_is_continued()
    {
        var device = new FakeNitroDevice(
            Enumerable.Range(0, 50).Select(i => FakeNitroDevice.Trap(i % 2 == 0 ? SyscallDirection.Enter : SyscallDirection.Exit, 1)),
            Enumerable.Range(0, 50).Select(i => FakeNitroDevice.Trap(SyscallDirection.Enter, 2)));
        var listener = new NitroIoctlListener(device, QemuPid, device);
        var inside = 0;
        var overlaps = 0;
        var perVcpu = new int[2];
        using var all = new CountdownEvent(100);

        using (listener.Listen(All()).Subscribe(e =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            Assert.That(e.Handle!.IsPaused, Is.True);
            perVcpu[e.Vcpu]++;
            Interlocked.Decrement(ref inside);
            all.Signal();
        }))
        {
            Assert.That(all.Wait(s_deadline), Is.True);
        }

        Assert.That(overlaps, Is.Zero);
        Assert.That(perVcpu, Is.EqualTo(new[] { 50, 50 }));
        Assert.That(device.Vcpus.Select(v => v.Continues), Is.EqualTo(device.Vcpus.Select(v => v.Delivered)), "every delivered event was continued");
        Assert.That(device.AttachedPid, Is.EqualTo(QemuPid));
    }

    [Test]
    public void The_trap_is_set_and_cleared_while_the_vm_is_suspended_and_the_vm_is_resumed_after()
    {
        var device = new FakeNitroDevice([FakeNitroDevice.Trap(SyscallDirection.Enter, 0)]);
        var listener = new NitroIoctlListener(device, QemuPid, device);
        using var first = new ManualResetEventSlim();
        using (listener.Listen(All()).Subscribe(_ => first.Set()))
        {
            Assert.That(first.Wait(s_deadline), Is.True);
        }

        Assert.That(device.Log, Is.EqualTo(new[]
        {
            $"attach_vm {QemuPid}", "attach_vcpus", "suspend", "trap True", "resume",
            "suspend", "trap False", "resume", "close_vm",
        }));
        Assert.That(device.TrapEnabled, Is.False);
        Assert.That(device.Suspended, Is.False, "the guest is left running");
        Assert.That(device.Vcpus.All(v => v.Disposed && !v.Paused), Is.True);
    }

    [Test]
    public void Plan_numbers_become_kernel_filters_and_are_removed_on_detach()
    {
        var device = new FakeNitroDevice(new ulong[] { 0, 2, 257, 1, 257 }.Select(n => FakeNitroDevice.Trap(SyscallDirection.Enter, n)));
        var listener = new NitroIoctlListener(device, QemuPid, device);
        var plan = new TrapPlan([], [], syscallNumbers: [257, 2]);
        var seen = new List<ulong>();
        using var three = new CountdownEvent(3);
        using (listener.Listen(plan).Subscribe(e =>
        {
            seen.Add(e.Registers.Rax);
            three.Signal();
        }))
        {
            Assert.That(three.Wait(s_deadline), Is.True);
            Assert.That(device.Filters, Is.EquivalentTo(new ulong[] { 257, 2 }));
        }

        Assert.That(seen, Is.EqualTo(new ulong[] { 2, 257, 257 }));
        Assert.That(device.Filters, Is.Empty);
        Assert.That(device.Log, Does.Contain("remove_filter 257").And.Contain("remove_filter 2"));
    }

    [Test]
    public void Detaching_while_an_event_is_in_flight_continues_that_vcpu()
    {
        var device = new FakeNitroDevice([FakeNitroDevice.Trap(SyscallDirection.Enter, 0), FakeNitroDevice.Trap(SyscallDirection.Enter, 0)]);
        var listener = new NitroIoctlListener(device, QemuPid, device);
        using var inObserver = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var subscription = listener.Listen(All()).Subscribe(_ =>
        {
            inObserver.Set();
            release.Wait(s_deadline);
        });
        Assert.That(inObserver.Wait(s_deadline), Is.True);
        Assert.That(device.Vcpus[0].Paused, Is.True);

        var stopping = Task.Run(subscription.Dispose);
        Thread.Sleep(50);
        release.Set();
        Assert.That(stopping.Wait(s_deadline), Is.True);

        Assert.That(device.Vcpus[0].Paused, Is.False);
        Assert.That(device.TrapEnabled, Is.False);
        Assert.That(device.Vcpus[0].Delivered, Is.EqualTo(1), "no event is taken after the detach");
    }

    [Test]
    public void An_observer_exception_continues_the_vcpu_clears_the_trap_and_reports_the_error()
    {
        var device = new FakeNitroDevice([FakeNitroDevice.Trap(SyscallDirection.Enter, 0)], [FakeNitroDevice.Trap(SyscallDirection.Enter, 1)]);
        var listener = new NitroIoctlListener(device, QemuPid, device);
        using var done = new ManualResetEventSlim();
        var calls = 0;

        using var _ = listener.Listen(All()).Subscribe(
            _ =>
            {
                Interlocked.Increment(ref calls);

                // Long enough for the other vCPU's event to arrive and wait for the delivery lock
                // this call holds: the auto-detach that follows the throw must not wait for that
                // thread (it once did, for 15 s, which CI's load sometimes reproduced).
                Thread.Sleep(200);
                throw new InvalidOperationException("observer bug");
            },
            _ => done.Set());

        Assert.That(SpinWait.SpinUntil(() => !device.TrapEnabled && device.VmDisposed, s_deadline), Is.True);
        Assert.That(device.Vcpus.All(v => !v.Paused), Is.True);
        Assert.That(calls, Is.EqualTo(1), "nothing is delivered after the observer threw");
        Assert.That(device.Vcpus.Select(v => v.Continues), Is.All.EqualTo(1), "both vCPUs were continued");
    }

    [Test]
    public void A_failing_vcpu_ends_the_stream_with_its_error_and_leaves_the_guest_running()
    {
        var device = new FakeNitroDevice([], []) { FailGetEventOnVcpu = id => id == 1 ? new IOException("vcpu fd gone") : null };
        var listener = new NitroIoctlListener(device, QemuPid, device);
        Exception? error = null;
        using var done = new ManualResetEventSlim();

        using var _ = listener.Listen(All()).Subscribe(_ => { }, ex => { error = ex; done.Set(); });

        Assert.That(done.Wait(s_deadline), Is.True);
        Assert.That(error, Is.InstanceOf<IOException>());
        Assert.That(device.TrapEnabled, Is.False);
        Assert.That(device.Suspended, Is.False);
    }

    [Test]
    public void A_synchronous_observer_writes_registers_through_the_handle()
    {
        var device = new FakeNitroDevice([FakeNitroDevice.Trap(SyscallDirection.Exit, 0)]);
        var listener = new NitroIoctlListener(device, QemuPid, device);
        using var done = new ManualResetEventSlim();
        using (listener.Listen(All()).Subscribe(e =>
        {
            var registers = e.Handle!.GetRegisters();
            registers.Rax = unchecked((ulong)-1);
            e.Handle.SetRegisters(registers);
            done.Set();
        }))
        {
            Assert.That(done.Wait(s_deadline), Is.True);
        }

        Assert.That(device.Log, Does.Contain("set_regs 0 rax=0xffffffffffffffff"));
    }

    [Test]
    public void Only_one_attachment_at_a_time_and_reattaching_after_detach_works()
    {
        var device = new FakeNitroDevice([]);
        var listener = new NitroIoctlListener(device, QemuPid, device);
        var first = listener.Listen(All()).Subscribe();
        Exception? error = null;
        listener.Listen(All()).Subscribe(_ => { }, ex => error = ex);
        Assert.That(error, Is.InstanceOf<InvalidOperationException>());
        first.Dispose();

        using var second = listener.Listen(All()).Subscribe();
        Assert.That(device.TrapEnabled, Is.True);
    }
}
