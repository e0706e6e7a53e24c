using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;

namespace Nitro.Backends.Windows.Tests.Tracing;

public sealed class WindowsNamesTests
{
    [Test]
    public void Every_nt_call_of_the_real_windows_7_table_is_named_from_the_service_table_and_symbols()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(600, 4, "a.exe", null, null), 601);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var table = TestData.Win7NtTable().Where(c => TestData.Win7Isf.TryGetSymbol(c.Name, out _)).ToList();

        var names = table.Select(c => backend.TraceOne(guest.Enter(0, thread, c.Number, [0, 0, 0, 0], returnAddress: 0)).Name).ToList();

        Assert.That(table, Has.Count.GreaterThan(390), "the 7601.24540 symbols name almost every call of the published table");
        Assert.That(names, Is.EqualTo(table.Select(c => c.Name)));
    }

    [Test]
    public void Without_a_symbol_table_names_come_from_the_callers_own_ntdll_stubs()
    {
        var guest = Guests.Windows10();
        guest.WriteKernel64(guest.Symbol("PsInitialSystemProcess"), guest.System.Eprocess);
        TestData.Win10Isf.TryGetSymbol("PsInitialSystemProcess", out var systemRva);
        var image = new WindowsKernelImage(guest.KernelBase, guest.KernelRoot, exports: new Dictionary<string, ulong>(StringComparer.Ordinal) { ["PsInitialSystemProcess"] = systemRva });
        var backend = new WindowsBackend(guest.Memory, WindowsKernelProfile.ForBuild(19045), image);
        var process = guest.AddProcess(900, 4, "wine.exe", @"\Device\HarddiskVolume2\wine.exe", "wine.exe /q");
        var thread = guest.AddThread(process, 904);

        // An in-kernel listener traps the stub's own syscall instruction: RIP is in Wine's ntdll, numbers are Wine's.
        var syscall = guest.StubReturn("NtCreateFile") - 2;
        var call = backend.TraceOne(guest.Enter(0, thread, 0x1d, [process.Allocate(8), 0x80100080, process.ObjectAttributes(@"\??\Z:\tmp\x"), 0], rip: syscall));

        Assert.That((call.Name, call.FullName, call.Number), Is.EqualTo(("NtCreateFile", "nt!NtCreateFile", 0x1dL)));
        Assert.That(call.Decoded["ObjectAttributes"], Is.EqualTo(@"\??\Z:\tmp\x"));
        Assert.That((call.Process!.Pid, call.Process.Name, call.ThreadId), Is.EqualTo((900, "wine.exe", (long?)904)), "pid and tid from the TEB, the process from the list");
        Assert.That(backend.TrapError, Does.Contain("no kernel symbols"));
        Assert.Throws<WindowsProfileException>(() => backend.CreatePlan(null));
    }

    [Test]
    public void Win32k_calls_are_named_from_win32u_stubs_and_return_plain_values()
    {
        var guest = Guests.Windows7();
        guest.WriteWin32kTable(0x200);
        var thread = guest.AddThread(guest.AddProcess(700, 4, "notepad.exe", null, "notepad"), 701);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var entry = backend.TraceOne(guest.Enter(0, thread, 0x1085, [0x12345, 0, 0, 0], returnAddress: guest.StubReturn("NtUserGetDC", win32u: true)));
        var exit = backend.TraceOne(guest.Exit(0, thread, 0x0101_0abc));

        Assert.That((entry.Name, entry.FullName), Is.EqualTo(("NtUserGetDC", "win32k!NtUserGetDC")));
        Assert.That(entry.Decoded["arg0"], Is.EqualTo("0x12345"));
        Assert.That(exit.Decoded["return"], Is.EqualTo(0x0101_0abcL));
        Assert.That(exit.Decoded.ContainsKey("status"), Is.False);
    }

    [Test]
    public void A_number_no_table_or_stub_knows_is_unknown_with_its_table_and_index()
    {
        var guest = Guests.Windows7(wine: false);
        var thread = guest.AddThread(guest.AddProcess(600, 4, "a.exe", null, null), 601);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var call = backend.TraceOne(guest.Enter(0, thread, 0x3ff, [1, 2, 3, 4], returnAddress: 0));

        Assert.That((call.Name, call.FullName), Is.EqualTo(("unknown", "nt!0x3ff")));
        Assert.That(call.Decoded.Keys, Is.EqualTo(new[] { "arg0", "arg1", "arg2", "arg3" }));
    }
}
