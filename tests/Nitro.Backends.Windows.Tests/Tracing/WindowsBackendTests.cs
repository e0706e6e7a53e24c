using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Tracing;

public sealed class WindowsBackendTests
{
    private const string ExplorerPath = @"\Device\HarddiskVolume2\Windows\explorer.exe";
    private const string ExplorerCommandLine = @"C:\Windows\Explorer.EXE /factory,{75dff2b7-6936-4c06-a8bb-676a7b00b24b}";

    private static IEnumerable<TestCaseData> Guests7And10()
    {
        yield return new TestCaseData("7").SetName("Windows 7 SP1 (7601.24540)");
        yield return new TestCaseData("10").SetName("Windows 10 (19041.3570)");
    }

    [TestCaseSource(nameof(Guests7And10))]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "One traced call, every field checked.")]
    public void NtCreateFile_entry_and_exit_come_out_with_every_field_right(string version)
    {
        var guest = version == "7" ? Guests.Windows7() : Guests.Windows10();
        var created = new DateTime(2026, 12, 3, 9, 30, 15, DateTimeKind.Utc);
        var explorer = guest.AddProcess(1234, 567, "explorer.exe", ExplorerPath, ExplorerCommandLine, created: created);
        var thread = guest.AddThread(explorer, 1240);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var handleOut = explorer.Allocate(8);
        var attributes = explorer.ObjectAttributes(@"\??\C:\Windows\win.ini");
        var allocation = explorer.Allocate(8);
        explorer.Write64(allocation, 4096);
        var number = guest.NumberOf("NtCreateFile");
        ulong[] arguments = [handleOut, 0x80100080, attributes, explorer.Allocate(16), allocation, 0x80, 3, 1, 0x60, 0, 0];
        var entry = backend.TraceOne(guest.Enter(1, thread, number, arguments, returnAddress: guest.StubReturn("NtCreateFile")));

        Assert.Multiple(() =>
        {
            Assert.That(entry.Name, Is.EqualTo("NtCreateFile"));
            Assert.That(entry.FullName, Is.EqualTo("nt!NtCreateFile"));
            Assert.That(entry.Number, Is.EqualTo(version == "7" ? 0x52 : 0x55));
            Assert.That(entry.Vcpu, Is.EqualTo(1));
            Assert.That(entry.ThreadId, Is.EqualTo(1240));
            Assert.That(entry.Arguments.Convention, Is.SameAs(CallingConvention.WindowsX64));
            Assert.That(entry.Arguments[8], Is.EqualTo(0x60UL), "a stack argument at rsp + 0x28 + 8·4");
            var process = (WindowsProcess)entry.Process!;
            Assert.That((process.Pid, process.Name, process.ParentPid), Is.EqualTo((1234, "explorer.exe", (int?)567)));
            Assert.That(process.Properties["command_line"], Is.EqualTo(ExplorerCommandLine));
            Assert.That(process.Properties["path"], Is.EqualTo(ExplorerPath));
            Assert.That(process.Properties["iswow64"], Is.EqualTo(false));
            Assert.That(process.Properties["parent_pid"], Is.EqualTo(567L));
            Assert.That(process.Properties["create_time"], Is.EqualTo("2026-12-03T09:30:15.0000000Z"));
            Assert.That(process.EprocessAddress, Is.EqualTo(explorer.Eprocess));
            Assert.That(process.DirectoryTableBase, Is.EqualTo(explorer.Root));

            var d = entry.Decoded;
            Assert.That(d["FileHandle"], Is.EqualTo($"0x{handleOut:x}"));
            Assert.That(d["DesiredAccess"], Is.EqualTo("FILE_READ_ATTRIBUTES|GENERIC_READ|SYNCHRONIZE"));
            Assert.That(d["ObjectAttributes"], Is.EqualTo(@"\??\C:\Windows\win.ini"));
            Assert.That(d.ContainsKey("ObjectAttributes.RootDirectory"), Is.False);
            Assert.That(d["AllocationSize"], Is.EqualTo(4096L));
            Assert.That(d["FileAttributes"], Is.EqualTo("FILE_ATTRIBUTE_NORMAL"));
            Assert.That(d["ShareAccess"], Is.EqualTo("FILE_SHARE_READ|FILE_SHARE_WRITE"));
            Assert.That(d["CreateDisposition"], Is.EqualTo("FILE_OPEN"));
            Assert.That(d["CreateOptions"], Is.EqualTo("FILE_SYNCHRONOUS_IO_NONALERT|FILE_NON_DIRECTORY_FILE"));
            Assert.That(d["EaLength"], Is.EqualTo(0L));
        });

        // The kernel writes the new handle, then returns through the swapgs before sysretq.
        explorer.Write64(handleOut, 0x1a4);
        var exit = backend.TraceOne(guest.Exit(1, thread, 0));
        Assert.Multiple(() =>
        {
            Assert.That(exit.Direction, Is.EqualTo(SyscallDirection.Exit));
            Assert.That(exit.Name, Is.EqualTo("NtCreateFile"));
            Assert.That(exit.Entry, Is.SameAs(entry));
            Assert.That(exit.ThreadId, Is.EqualTo(1240));
            Assert.That(exit.Process!.Pid, Is.EqualTo(1234));
            Assert.That(exit.Decoded["status"], Is.EqualTo("STATUS_SUCCESS"));
            Assert.That(exit.Decoded["return"], Is.EqualTo("0x00000000"));
            Assert.That(exit.Decoded["FileHandle"], Is.EqualTo("0x1a4"));
            Assert.That(exit.Duration, Is.Not.Null);
        });
    }

    [TestCaseSource(nameof(Guests7And10))]
    public void A_failed_call_returns_its_ntstatus_by_name_and_no_outputs(string version)
    {
        var guest = version == "7" ? Guests.Windows7() : Guests.Windows10();
        var process = guest.AddProcess(800, 4, "svchost.exe", @"\Device\HarddiskVolume2\Windows\System32\svchost.exe", "svchost.exe -k netsvcs");
        var thread = guest.AddThread(process, 804);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var handleOut = process.Allocate(8);
        process.Write64(handleOut, 0xdead);

        backend.TraceOne(guest.Enter(0, thread, guest.NumberOf("NtOpenKey"), [handleOut, 0x20019, process.ObjectAttributes(@"\Registry\Machine\Software\Nope")]));
        var exit = backend.TraceOne(guest.Exit(0, thread, 0xC0000034));

        Assert.That(exit.Decoded["status"], Is.EqualTo("STATUS_OBJECT_NAME_NOT_FOUND"));
        Assert.That(exit.Decoded["return"], Is.EqualTo("0xc0000034"));
        Assert.That(exit.Decoded.ContainsKey("KeyHandle"), Is.False);
        Assert.That(exit.Entry!.Decoded["DesiredAccess"], Is.EqualTo("KEY_READ"));
        Assert.That(exit.Entry.Decoded["ObjectAttributes"], Is.EqualTo(@"\Registry\Machine\Software\Nope"));
    }

    [Test]
    public void Two_vcpus_running_two_processes_are_told_apart_through_KiProcessorBlock()
    {
        var guest = Guests.Windows10();
        var a = guest.AddThread(guest.AddProcess(100, 4, "a.exe", @"\Device\HarddiskVolume2\a.exe", "a.exe"), 101);
        var b = guest.AddThread(guest.AddProcess(200, 100, "b.exe", @"\Device\HarddiskVolume2\b.exe", "b.exe --child"), 201);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);
        var close = guest.NumberOf("NtClose");

        var onA = guest.Enter(0, a, close, [0x10]);
        var onB = guest.Enter(1, b, close, [0x20]);
        var calls = backend.Trace(onA, onB);

        Assert.That(calls.Select(c => (c.Vcpu, c.Process!.Name, c.ThreadId, c.Decoded["Handle"])), Is.EqualTo(new[]
        {
            (0, "a.exe", (long?)101, (object?)"0x10"),
            (1, "b.exe", (long?)201, (object?)"0x20"),
        }));
        Assert.That(calls[1].Process!.Properties["command_line"], Is.EqualTo("b.exe --child"));
    }

    [Test]
    public void The_current_thread_is_found_from_gs_and_from_the_processor_block_alike()
    {
        var guest = Guests.Windows7(vcpus: 3, wine: false);
        var process = guest.AddProcess(321, 4, "lsass.exe", null, "lsass.exe");
        var thread = guest.AddThread(process, 322);
        guest.Run(2, thread);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var viaGs = backend.FindCurrentThread(2, guest.Kpcrs[2]);
        var viaBlock = backend.FindCurrentThread(2);

        Assert.That(viaGs, Is.EqualTo(new WindowsCurrentThread(thread.Ethread, process.Eprocess, process.Root, 322, 321, thread.TrapFrame)));
        Assert.That(viaBlock, Is.EqualTo(viaGs));
        Assert.That(backend.FindCurrentThread(0), Is.Null, "vCPU 0's KPRCB.CurrentThread is null");
    }

    [Test]
    public void The_trap_frame_holds_the_user_registers_at_the_profile_offsets()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(500, 4, "cmd.exe", null, "cmd.exe");
        var thread = guest.AddThread(process, 504);
        var trap = guest.Enter(0, thread, 0x55, [0x11, 0x22, 0x33, 0x44]);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var frame = backend.ReadTrapFrame(backend.FindCurrentThread(0)!.TrapFrame);

        Assert.That((frame.Rax, frame.R10, frame.Rdx, frame.R8, frame.R9, frame.Rsp, frame.Rip), Is.EqualTo((0x55UL, 0x11UL, 0x22UL, 0x33UL, 0x44UL, trap.Registers.Rsp, trap.Registers.Rcx)));
    }

    [Test]
    public void The_process_list_is_walked_from_PsActiveProcessHead()
    {
        var guest = Guests.Windows7(wine: false);
        guest.AddProcess(300, 4, "smss.exe", @"\Device\HarddiskVolume2\Windows\System32\smss.exe", null);
        guest.AddProcess(400, 300, "csrss.exe", null, null, wow64: true);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var processes = backend.EnumerateProcesses();

        Assert.That(processes.Select(p => (p.Pid, p.Name)), Is.EqualTo(new[] { (4, "System"), (300, "smss.exe"), (400, "csrss.exe") }));
        Assert.That(processes.Select(p => p.IsWow64), Is.EqualTo(new[] { false, false, true }));
        Assert.That(processes[1].ImagePath, Is.EqualTo(@"\Device\HarddiskVolume2\Windows\System32\smss.exe"));
    }
}
