using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Tracing;

public sealed class WindowsHookTests
{
    [Test]
    public void An_entry_hook_by_name_redirects_a_register_and_a_stack_argument_of_the_paused_guest()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(1000, 4, "x.exe", null, null);
        var thread = guest.AddThread(process, 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var harmless = process.ObjectAttributes(@"\??\C:\harmless.txt");
        var hits = 0;
        using var hook = backend.DefineHook("NtCreateFile", call =>
        {
            hits++;
            call.Arguments.Set(2, harmless);
            call.Arguments.Set(7, 1); // CreateDisposition, on the user stack: FILE_CREATE → FILE_OPEN
        });
        var trap = guest.Enter(0, thread, 0x55, [0, 0x120116, process.ObjectAttributes(@"\??\C:\Windows\System32\evil.dll"), 0, 0, 0x80, 0, 2, 0x60, 0, 0]);
        var (live, vcpu, pause) = GuestVcpu.Live(trap);
        Syscall call;
        using (pause)
        {
            call = backend.TraceOne(live);
        }

        Assert.That(hits, Is.EqualTo(1));
        Assert.That(vcpu.Registers.R8, Is.EqualTo(harmless), "R8 holds argument 2");
        Assert.That(process.Read64(trap.Registers.Rsp + 0x28 + (3 * 8)), Is.EqualTo(1UL), "argument 7 is at rsp + 0x28 + 8·3");
        Assert.That(call.Arguments.Modified, Is.EqualTo(new[] { 2, 7 }));
        Assert.That(call.Decoded["ObjectAttributes"], Is.EqualTo(@"\??\C:\Windows\System32\evil.dll"), "decoded values keep what the guest asked for");
    }

    [Test]
    public void An_exit_hook_changes_the_status_the_thread_gets_back()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, null), 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        using var hook = backend.DefineHook("NtOpenKey", call => call.SetReturnValue(0xC0000022), SyscallDirection.Exit);
        backend.TraceOne(guest.Enter(0, thread, 0x0f, [0, 0x20019, 0]));

        var (live, vcpu, pause) = GuestVcpu.Live(guest.Exit(0, thread, 0));
        using (pause)
        {
            backend.TraceOne(live);
        }

        Assert.That(vcpu.Registers.Rax, Is.EqualTo(0xC0000022UL));
    }

    [Test]
    public void Hooks_run_only_for_their_name_and_direction()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, null), 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var seen = new List<string>();
        using var a = backend.DefineHook("NtClose", c => seen.Add("enter " + c.Name));
        using var b = backend.DefineHook("NtClose", c => seen.Add("exit " + c.Name), SyscallDirection.Exit);

        backend.Trace(
            guest.Enter(0, thread, 0x0c, [4]),
            guest.Exit(0, thread, 0),
            guest.Enter(0, thread, 0x0f, [0, 0, 0]),
            guest.Exit(0, thread, 0));

        Assert.That(seen, Is.EqualTo(new[] { "enter NtClose", "exit NtClose" }));
        Assert.That(backend.Statistics.Snapshot().HooksRun, Is.EqualTo(2));
    }
}
