using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Backends.Windows.Tests.Tracing;

public sealed class WindowsTrapPlanTests
{
    [TestCase("7")]
    [TestCase("10")]
    public void A_full_plan_traps_both_entries_at_swapgs_and_the_swapgs_before_sysretq(string version)
    {
        var guest = version == "7" ? Guests.Windows7(wine: false) : Guests.Windows10(wine: false);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var plan = backend.CreatePlan(null);

        Assert.That(plan.EntryPoints.Select(p => (p.Address, p.Role, p.Emulation, p.Length)), Is.EqualTo(new[]
        {
            (guest.Symbol("KiSystemCall64"), TrapRole.SyscallEntry, TrapEmulation.SwapGs, 3),
            (guest.Symbol("KiSystemCall64Shadow"), TrapRole.SyscallEntry, TrapEmulation.SwapGs, 3),
        }));
        Assert.That(plan.ExitPoints.Select(p => (p.Address, p.Role, p.Emulation)), Is.EqualTo(new[]
        {
            (guest.ExitAddress, TrapRole.SyscallExit, TrapEmulation.SwapGs),
            (guest.ShadowExitAddress, TrapRole.SyscallExit, TrapEmulation.SwapGs),
        }));
        Assert.That(plan.ExitGate, Is.Null);
        Assert.That(plan.SyscallNumbers, Is.Null);
        Assert.That(backend.TrapError, Is.Null);
    }

    [Test]
    public void A_requested_call_whose_handler_begins_with_a_nop_is_trapped_at_its_handler_only()
    {
        var guest = Guests.Windows7(wine: false);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var plan = backend.CreatePlan(["NtOpenFile"]);

        Assert.That(plan.EntryPoints.Select(p => (p.Address, p.Role, p.Emulation, p.Length, p.Syscall)), Is.EqualTo(new[]
        {
            (guest.Symbol("NtOpenFile"), TrapRole.Handler, TrapEmulation.Skip, 5, (string?)"NtOpenFile"),
        }));
        Assert.That(plan.SyscallNumbers, Is.EqualTo(new long[] { 0x30 }));
        Assert.That(plan.ExitGate, Is.Not.Null);
    }

    [Test]
    public void At_a_handler_the_register_arguments_are_live_and_the_user_registers_come_from_the_ktrap_frame()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(1000, 4, "x.exe", null, "x.exe");
        var thread = guest.AddThread(process, 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var plan = backend.CreatePlan(["NtOpenFile"]);

        // The entry saves the user's RIP, RSP and flags in the trap frame, not the argument registers
        // (only for a thread being debugged): the handler finds those in RCX, RDX, R8 and R9.
        ulong[] arguments = [process.Allocate(8), 0x100001, process.ObjectAttributes(@"\??\C:\boot.ini"), process.Allocate(16), 7, 0x60];
        guest.Enter(0, thread, 0x33, arguments);
        guest.StaleArgumentSlots(thread);
        var (live, _, pause) = GuestVcpu.Live(guest.AtHandler(0, thread, "NtOpenFile", arguments: arguments));
        using (pause)
        {
            var call = backend.TraceOne(live);
            Assert.That((call.Name, call.Number, call.ThreadId), Is.EqualTo(("NtOpenFile", 0x33L, (long?)1004)));
            Assert.That(Enumerable.Range(0, 6).Select(i => call.Arguments[i]), Is.EqualTo(arguments));
            Assert.That(call.Decoded["ObjectAttributes"], Is.EqualTo(@"\??\C:\boot.ini"));
            Assert.That(call.Decoded["ShareAccess"], Is.EqualTo("FILE_SHARE_READ|FILE_SHARE_WRITE|FILE_SHARE_DELETE"));
            Assert.That(call.Decoded["OpenOptions"], Is.EqualTo("FILE_SYNCHRONOUS_IO_NONALERT|FILE_NON_DIRECTORY_FILE"));
            Assert.That(call.Event.Handle!.Target, Is.EqualTo(VcpuRegisterTarget.SavedUserFrame));
            Assert.That(call.Event.Handle.FrameAddress, Is.EqualTo(thread.TrapFrame));
            Assert.Throws<NotSupportedException>(() => call.Arguments.Set(1, 1), "the kernel has copied the register arguments already");
            Assert.Throws<NotSupportedException>(() => call.Arguments.Set(4, 1), "and the stack arguments");
        }

        Assert.That(plan.ExitGate!.IsOpen, Is.True);
        var exit = backend.TraceOne(guest.Exit(0, thread, 0));
        Assert.That(exit.Name, Is.EqualTo("NtOpenFile"));
        Assert.That(plan.ExitGate.IsOpen, Is.False);
    }

    [Test]
    public void A_requested_call_without_a_trappable_handler_is_filtered_at_the_entry_and_gates_the_exits()
    {
        var guest = Guests.Windows7(wine: false);
        var process = guest.AddProcess(1000, 4, "x.exe", null, null);
        var thread = guest.AddThread(process, 1004);
        var other = guest.AddThread(process, 1008);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var plan = backend.CreatePlan(["NtCreateFile"]);

        Assert.That(plan.EntryPoints.Select(p => p.Role), Is.All.EqualTo(TrapRole.SyscallEntry));
        Assert.That(plan.SyscallNumbers, Is.EqualTo(new long[] { 0x52 }));
        var traced = backend.Trace(
            guest.Enter(0, other, 0x0c, [4, 0, 0, 0]),
            guest.Enter(1, thread, 0x52, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        Assert.That(traced.Select(c => c.Name), Is.EqualTo(new[] { "NtCreateFile" }), "NtClose is not requested");
        Assert.That(plan.ExitGate!.InFlight, Is.EqualTo(1));

        var exits = backend.Trace(guest.Exit(0, other, 0), guest.Exit(1, thread, 0xC0000022));
        Assert.That(exits.Select(c => (c.Name, c.Decoded["status"])), Is.EqualTo(new[] { ("NtCreateFile", (object?)"STATUS_ACCESS_DENIED") }));
        Assert.That(plan.ExitGate.IsOpen, Is.False);
    }

    [Test]
    public void A_name_that_is_not_in_the_service_table_is_refused()
    {
        var guest = Guests.Windows7(wine: false);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var error = Assert.Throws<ArgumentException>(() => backend.CreatePlan(["NtNoSuchCall"]));
        Assert.That(error!.Message, Does.Contain("NtNoSuchCall"));
    }

    [TestCase("7")]
    [TestCase("10")]
    public void An_exit_through_the_kva_shadow_exit_pairs_with_its_entry(string version)
    {
        var guest = version == "7" ? Guests.Windows7(wine: false) : Guests.Windows10(wine: false);
        var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, null), 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        backend.CreatePlan(null);

        var entry = backend.TraceOne(guest.Enter(0, thread, guest.NumberOf("NtClose"), [8], rip: guest.Symbol("KiSystemCall64Shadow")));
        var exit = backend.TraceOne(guest.Exit(0, thread, 0xC000_0008, rip: guest.ShadowExitAddress));

        Assert.That((entry.Name, entry.Direction), Is.EqualTo(("NtClose", SyscallDirection.Enter)));
        Assert.That((exit.Name, exit.Direction, exit.Entry), Is.EqualTo(("NtClose", SyscallDirection.Exit, (object?)entry)));
        Assert.That(exit.Decoded["status"], Is.EqualTo("STATUS_INVALID_HANDLE"));
    }

    [Test]
    public void An_exit_without_its_entry_is_named_from_KTHREAD_SystemCallNumber()
    {
        var guest = Guests.Windows10(wine: false);
        var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, null), 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        guest.Enter(0, thread, 0x0f, [8]); // seen by the guest, not by the back end (attached later)

        var exit = backend.TraceOne(guest.Exit(0, thread, 0));

        Assert.That((exit.Name, exit.Number, exit.Entry), Is.EqualTo(("NtClose", 0x0fL, (object?)null)));
    }
}
