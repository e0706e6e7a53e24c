using System.Diagnostics;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Tracing;

/// <summary>Guests that lie: every lie becomes a marked value or a shorter answer, never a hang, a crash or a huge allocation.</summary>
[CancelAfter(30_000)]
public sealed class WindowsHostileGuestTests
{
    [Test]
    public void A_loop_in_the_process_list_ends_the_walk()
    {
        var guest = Guests.Windows7(wine: false);
        var a = guest.AddProcess(300, 4, "a.exe", null, null);
        var b = guest.AddProcess(400, 300, "b.exe", null, null);
        var links = (ulong)guest.Offsets.EprocessActiveProcessLinks;
        guest.WriteKernel64(b.Eprocess + links, a.Eprocess + links); // b → a → b → …, the head is never reached again
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var watch = Stopwatch.StartNew();
        var processes = backend.EnumerateProcesses();

        Assert.That(processes.Select(p => p.Pid), Is.EqualTo(new[] { 4, 300, 400 }));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public void A_loop_in_the_process_list_does_not_hang_the_teb_lookup_of_a_missing_pid()
    {
        var guest = Guests.Windows10();
        var a = guest.AddProcess(300, 4, "a.exe", null, null);
        var links = (ulong)guest.Offsets.EprocessActiveProcessLinks;
        guest.WriteKernel64(a.Eprocess + links, a.Eprocess + links);
        var thread = guest.AddThread(guest.AddProcess(500, 4, "c.exe", null, null), 504); // after the loop: unreachable
        var image = new Nitro.Backends.Windows.Images.WindowsKernelImage(guest.KernelBase, guest.KernelRoot);
        var backend = new WindowsBackend(guest.Memory, Nitro.Backends.Windows.Profile.WindowsKernelProfile.ForBuild(19045), image);

        var call = backend.TraceOne(guest.Enter(0, thread, 0x1d, [0, 0, 0, 0], rip: guest.StubReturn("NtCreateFile") - 2));

        Assert.That(call.ThreadId, Is.EqualTo(504));
        Assert.That(call.Process, Is.Null, "pid 500 is not reachable through the looping list");
    }

    [Test]
    public void A_unicode_string_longer_than_its_buffer_is_a_marked_value()
    {
        var guest = Guests.Windows7(wine: false);
        var process = guest.AddProcess(300, 4, "a.exe", null, null);
        var thread = guest.AddThread(process, 304);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var liar = process.UnicodeString(@"\Registry\Machine\x", length: 0xFFF0, maximum: 0x20);

        var call = backend.TraceOne(guest.Enter(0, thread, 0x5d, [0x40, liar, 0, 1, 0, 0]));

        var marker = call.Decoded["ValueName"] as Unreadable;
        Assert.That(marker, Is.Not.Null);
        Assert.That(marker!.Reason, Does.Contain("exceeds its buffer"));
        Assert.That(call.Decoded["Type"], Is.EqualTo("REG_SZ"), "the rest of the call is decoded");
    }

    [Test]
    public void An_unmapped_peb_gives_a_marked_command_line()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(300, 4, "a.exe", @"\Device\HarddiskVolume2\a.exe", "a.exe --x");
        var thread = guest.AddThread(process, 304);
        guest.Unmap(process.Root, SyntheticWindowsGuest.PebAddress);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var call = backend.TraceOne(guest.Enter(0, thread, 0x0f, [4]));

        Assert.That(call.Process!.Properties["command_line"], Is.EqualTo(new Unreadable(SyntheticWindowsGuest.PebAddress + 0x20, "not mapped")));
        Assert.That(call.Process.Properties["path"], Is.EqualTo(@"\Device\HarddiskVolume2\a.exe"));
        Assert.That(call.Decoded["Handle"], Is.EqualTo("0x4"));
    }

    [Test]
    public void A_huge_argument_count_in_the_service_table_is_bounded_by_the_calling_convention()
    {
        var guest = Guests.Windows7(wine: false);
        var process = guest.AddProcess(300, 4, "a.exe", null, null);
        var thread = guest.AddThread(process, 304);
        var unknownPrototype = TestData.Win7NtTable().First(c => c.Name == "NtQueryDefaultLocale").Number;
        guest.SetStackArguments(unknownPrototype, 0xF);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var call = backend.TraceOne(guest.Enter(0, thread, unknownPrototype, [1, 2, 3, 4, 5, 6]));

        Assert.That(call.Decoded, Has.Count.EqualTo(CallingConvention.WindowsX64.MaxArguments));
        Assert.That(call.Decoded["arg4"], Is.EqualTo("0x5"));
    }

    [Test]
    public void A_huge_service_table_limit_and_a_wild_number_stay_bounded()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(300, 4, "a.exe", null, null), 304);
        guest.WriteKernel64(guest.Symbol("KeServiceDescriptorTable") + 0x10, ulong.MaxValue);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var call = backend.TraceOne(guest.Enter(0, thread, 0xFFF, [0, 0, 0, 0], returnAddress: 0));
        var wild = backend.TraceOne(guest.Enter(0, thread, unchecked((int)0xFFFF_FFFF), [0, 0, 0, 0], returnAddress: 0));

        Assert.That(call.Name, Is.EqualTo("unknown"));
        Assert.That(wild.Name, Is.EqualTo("unknown"));
        Assert.Throws<ArgumentException>(() => backend.CreatePlan(["NtNoSuchCall"]));
    }

    [Test]
    public void Stack_arguments_on_an_unmapped_stack_are_marked_and_register_arguments_still_decoded()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(300, 4, "a.exe", null, null);
        var thread = guest.AddThread(process, 304);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var trap = guest.Enter(0, thread, 0x55, [0, 0x120089, process.ObjectAttributes(@"\??\C:\x"), 0]);
        var registers = trap.Registers;
        registers.Rsp = 0x0000_6000_0000_0000;
        var lied = new Nitro.Reactive.Events.NitroEvent(0, trap.Direction, trap.Mechanism, in registers, in trap.SpecialRegisters, trap.Timestamp);

        var call = backend.TraceOne(lied);

        Assert.That(call.Decoded["ObjectAttributes"], Is.EqualTo(@"\??\C:\x"));
        Assert.That(call.Decoded["DesiredAccess"], Is.EqualTo("FILE_GENERIC_READ"));
        Assert.That(call.Decoded["CreateOptions"], Is.EqualTo(new Unreadable(0x0000_6000_0000_0000 + 0x28 + (4 * 8), "not mapped")));
    }

    [Test]
    public void A_garbage_current_thread_falls_back_to_the_teb_and_a_garbage_teb_gives_no_process()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(300, 4, "a.exe", null, null), 304);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var trap = guest.Enter(0, thread, 0x0c, [4]);
        guest.WriteKernel64(guest.Kpcrs[0] + 0x188, 0xFFFF_F8DE_ADBE_E000);

        var call = backend.TraceOne(trap);
        var special = trap.SpecialRegisters;
        special.Gs.Base = 0x0000_7000_0000_0000;
        var noTeb = backend.TraceOne(new Nitro.Reactive.Events.NitroEvent(0, trap.Direction, trap.Mechanism, in trap.Registers, in special, trap.Timestamp));

        Assert.That((call.Name, call.Process!.Pid, call.ThreadId), Is.EqualTo(("NtClose", 300, (long?)304)), "the TEB's ClientId names the caller");
        Assert.That((noTeb.Name, noTeb.Process, noTeb.ThreadId), Is.EqualTo(("NtClose", (object?)null, (long?)null)));
        Assert.That(backend.Statistics.Snapshot().MemoryErrors, Is.GreaterThan(0));
    }
}
