using System.Text;
using Nitro.Backends.Windows.Decoding;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Decoding;

public sealed class WindowsSyscallDecoderTests
{
    private SyntheticWindowsGuest _guest = null!;
    private GuestProcess _process = null!;
    private GuestThread _thread = null!;

    private static WindowsSyscallDecoder Decoder => WindowsSyscallDecoder.Default;

    [SetUp]
    public void BuildGuest()
    {
        _guest = Guests.Windows10(vcpus: 1, wine: false);
        _process = _guest.AddProcess(100, 4, "t.exe", null, null);
        _thread = _guest.AddThread(_process, 104);
    }

    [Test]
    public void The_issue_calls_and_more_are_decoded_by_prototype()
    {
        string[] required =
        [
            "NtCreateFile", "NtOpenFile", "NtReadFile", "NtWriteFile", "NtDeleteFile", "NtSetInformationFile", "NtQueryDirectoryFile",
            "NtCreateKey", "NtOpenKey", "NtOpenKeyEx", "NtSetValueKey", "NtQueryValueKey", "NtDeleteKey", "NtCreateUserProcess",
            "NtOpenProcess", "NtTerminateProcess", "NtCreateThreadEx", "NtAllocateVirtualMemory", "NtProtectVirtualMemory",
            "NtWriteVirtualMemory", "NtReadVirtualMemory", "NtMapViewOfSection", "NtCreateSection", "NtDeviceIoControlFile",
            "NtLoadDriver", "NtDelayExecution", "NtCreateMutant", "NtClose",
        ];
        Assert.That(Decoder.KnownSyscalls, Is.SupersetOf(required));
        Assert.That(Decoder.KnownSyscalls, Has.Count.GreaterThanOrEqualTo(40));
    }

    [Test]
    public void Every_known_call_decodes_its_prototype_names_from_null_arguments_without_throwing()
    {
        foreach (var name in Decoder.KnownSyscalls)
        {
            var decoded = Decode(name, new ulong[11]);
            Assert.That(decoded, Is.Not.Empty, name);
            Assert.That(decoded.Keys, Has.None.StartsWith("arg"), name);
        }
    }

    [Test]
    public void NtOpenProcess_names_the_access_and_reads_the_client_id()
    {
        var cid = _process.Allocate(16);
        _process.Write64(cid, 1234);
        _process.Write64(cid + 8, 0);

        var d = Decode("NtOpenProcess", [_process.Allocate(8), 0x1410, 0, cid]);

        Assert.That(d["DesiredAccess"], Is.EqualTo("PROCESS_VM_READ|PROCESS_QUERY_INFORMATION|PROCESS_QUERY_LIMITED_INFORMATION"));
        Assert.That((d["ClientId.UniqueProcess"], d["ClientId.UniqueThread"]), Is.EqualTo(((object?)1234L, (object?)0L)));
        Assert.That(d["ObjectAttributes"], Is.Null);
    }

    [Test]
    public void NtTerminateProcess_names_the_pseudo_handle_and_the_exit_status()
    {
        var d = Decode("NtTerminateProcess", [ulong.MaxValue, 0xC000013A]);

        Assert.That((d["ProcessHandle"], d["ExitStatus"]), Is.EqualTo(((object?)"NtCurrentProcess", (object?)"STATUS_CONTROL_C_EXIT")));
    }

    [Test]
    public void NtDelayExecution_reads_the_large_integer_interval()
    {
        var interval = _process.Allocate(8);
        _process.Write64(interval, unchecked((ulong)-10_000_000L));

        var d = Decode("NtDelayExecution", [0, interval]);

        Assert.That((d["Alertable"], d["DelayInterval"]), Is.EqualTo(((object?)false, (object?)-10_000_000L)));
    }

    [Test]
    public void NtAllocateVirtualMemory_reads_its_in_out_values_at_entry_and_at_exit()
    {
        var baseAddress = _process.Allocate(8);
        var size = _process.Allocate(8);
        _process.Write64(size, 0x10000);
        ulong[] arguments = [ulong.MaxValue, baseAddress, 0, size, 0x3000, 0x40];

        var d = Decode("NtAllocateVirtualMemory", arguments);
        _process.Write64(baseAddress, 0x7ff6_0000_0000);
        _process.Write64(size, 0x11000);
        var exit = DecodeExit("NtAllocateVirtualMemory", 0, arguments);

        Assert.That(d["BaseAddress"], Is.EqualTo("0x0"));
        Assert.That(d["RegionSize"], Is.EqualTo(0x10000L));
        Assert.That(d["AllocationType"], Is.EqualTo("MEM_COMMIT|MEM_RESERVE"));
        Assert.That(d["Protect"], Is.EqualTo("PAGE_EXECUTE_READWRITE"));
        Assert.That((exit["BaseAddress"], exit["RegionSize"]), Is.EqualTo(((object?)"0x7ff600000000", (object?)0x11000L)));
    }

    [Test]
    public void NtProtectVirtualMemory_names_the_old_protection_at_exit()
    {
        var old = _process.Allocate(8);
        _process.Write64(old, 0x04);

        var exit = DecodeExit("NtProtectVirtualMemory", 0, [ulong.MaxValue, _process.Allocate(8), _process.Allocate(8), 0x20, old]);

        Assert.That(exit["OldProtect"], Is.EqualTo("PAGE_READWRITE"));
    }

    [Test]
    public void NtWriteFile_previews_the_first_bytes_of_the_buffer_bounded_by_its_length()
    {
        var text = Encoding.ASCII.GetBytes("MZ\x90\0 this is a dropped payload that is longer than the preview bound of sixty-four bytes");
        var buffer = _process.WriteBytes(text);

        var d = Decode("NtWriteFile", [0x44, 0, 0, 0, _process.Allocate(16), buffer, (ulong)text.Length, 0, 0]);
        var small = Decode("NtWriteFile", [0x44, 0, 0, 0, 0, buffer, 2, 0, 0]);

        Assert.That(d["Buffer"], Is.EqualTo(text[..WindowsSyscallDecoder.BufferPreviewBytes]));
        Assert.That(small["Buffer"], Is.EqualTo(text[..2]));
        Assert.That(d["Length"], Is.EqualTo((long)text.Length));
        Assert.That(d["FileHandle"], Is.EqualTo("0x44"));
    }

    [Test]
    public void NtSetValueKey_names_the_value_and_its_registry_type()
    {
        var data = _process.WriteBytes(Encoding.Unicode.GetBytes("C:\\evil.exe\0"));

        var d = Decode("NtSetValueKey", [0x88, _process.UnicodeString("Run"), 0, 1, data, 24]);

        Assert.That((d["KeyHandle"], d["ValueName"], d["Type"], d["DataSize"]), Is.EqualTo(((object?)"0x88", (object?)"Run", (object?)"REG_SZ", (object?)24L)));
        Assert.That(Encoding.Unicode.GetString((byte[])d["Data"]!), Is.EqualTo("C:\\evil.exe\0"));
    }

    [Test]
    public void NtCreateKey_reads_the_disposition_at_exit()
    {
        var disposition = _process.Allocate(8);
        var handle = _process.Allocate(8);
        _process.Write64(disposition, 1);
        _process.Write64(handle, 0x9c);
        ulong[] arguments = [handle, 0xF003F, _process.ObjectAttributes(@"Software\Evil", root: 0x80), 0, 0, 1, disposition];

        var d = Decode("NtCreateKey", arguments);
        var exit = DecodeExit("NtCreateKey", 0, arguments);

        Assert.That((d["DesiredAccess"], d["ObjectAttributes"], d["ObjectAttributes.RootDirectory"], d["CreateOptions"]), Is.EqualTo(((object?)"KEY_ALL_ACCESS", (object?)@"Software\Evil", (object?)"0x80", (object?)"REG_OPTION_VOLATILE")));
        Assert.That((exit["KeyHandle"], exit["Disposition"]), Is.EqualTo(((object?)"0x9c", (object?)"REG_CREATED_NEW_KEY")));
    }

    [Test]
    public void NtCreateUserProcess_reads_image_path_and_command_line_from_the_process_parameters()
    {
        var parameters = _process.Allocate(0x400);
        _process.WriteUnicodeString(parameters + 0x60, @"\??\C:\Windows\System32\cmd.exe");
        _process.WriteUnicodeString(parameters + 0x70, @"cmd.exe /c whoami");

        var d = Decode("NtCreateUserProcess", [_process.Allocate(8), _process.Allocate(8), 0x2000000, 0x2000000, 0, 0, 0x200, 1, parameters, _process.Allocate(0x58), 0]);

        Assert.That(d["ProcessParameters.ImagePathName"], Is.EqualTo(@"\??\C:\Windows\System32\cmd.exe"));
        Assert.That(d["ProcessParameters.CommandLine"], Is.EqualTo("cmd.exe /c whoami"));
        Assert.That((d["ProcessDesiredAccess"], d["ThreadDesiredAccess"]), Is.EqualTo(((object?)"MAXIMUM_ALLOWED", (object?)"MAXIMUM_ALLOWED")));
    }

    [Test]
    public void NtLoadDriver_NtCreateSection_NtDeviceIoControlFile_and_NtCreateMutant_are_typed()
    {
        var driver = Decode("NtLoadDriver", [_process.UnicodeString(@"\Registry\Machine\System\CurrentControlSet\Services\evil")]);
        var section = Decode("NtCreateSection", [_process.Allocate(8), 0xF001F, 0, 0, 0x10, 0x1000000, 0x40]);
        var ioctl = Decode("NtDeviceIoControlFile", [0x50, 0, 0, 0, 0, 0x22E004, _process.WriteBytes([1, 2, 3]), 3, 0, 0]);
        var mutant = Decode("NtCreateMutant", [_process.Allocate(8), 0x1F0001, _process.ObjectAttributes(@"\BaseNamedObjects\Global\EvilMutex"), 1]);

        Assert.That(driver["DriverServiceName"], Is.EqualTo(@"\Registry\Machine\System\CurrentControlSet\Services\evil"));
        Assert.That((section["DesiredAccess"], section["SectionPageProtection"], section["AllocationAttributes"], section["FileHandle"]), Is.EqualTo(((object?)"SECTION_ALL_ACCESS", (object?)"PAGE_EXECUTE", (object?)"SEC_IMAGE", (object?)"0x40")));
        Assert.That((ioctl["IoControlCode"], ioctl["InputBuffer"], ioctl["InputBufferLength"]), Is.EqualTo(((object?)"0x22e004", (object?)new byte[] { 1, 2, 3 }, (object?)3L)));
        Assert.That((mutant["ObjectAttributes"], mutant["InitialOwner"]), Is.EqualTo(((object?)@"\BaseNamedObjects\Global\EvilMutex", (object?)true)));
    }

    [Test]
    public void An_unreadable_object_attributes_pointer_is_a_marker_and_the_rest_still_decodes()
    {
        var d = Decode("NtOpenFile", [_process.Allocate(8), 0x100001, 0x0000_5000_0000_0000, 0, 7, 0x20]);

        Assert.That(d["ObjectAttributes"], Is.EqualTo(new Unreadable(0x0000_5000_0000_0000, "not mapped")));
        Assert.That(d["OpenOptions"], Is.EqualTo("FILE_SYNCHRONOUS_IO_NONALERT"));
    }

    [Test]
    public void Without_guest_memory_pointed_values_are_markers()
    {
        var trap = _guest.Enter(0, _thread, 0, [0, 0x80000000, 0x1000, 0]);
        var d = Decoder.DecodeEntry("NtOpenKey", new ArgumentMap(trap, CallingConvention.WindowsX64, null), null);

        Assert.That(d["ObjectAttributes"], Is.EqualTo(new Unreadable(0x1000, "no guest memory attached")));
        Assert.That(d["DesiredAccess"], Is.EqualTo("GENERIC_READ"));
    }

    [Test]
    public void Stack_arguments_read_in_one_go_equal_those_read_slot_by_slot()
    {
        ulong[] arguments = [_process.Allocate(8), 0x120089, _process.ObjectAttributes(@"\??\C:\x"), 0, 0, 0x80, 7, 3, 0x21, 0, 0];
        var trap = _guest.Enter(0, _thread, 0, arguments);
        var map = new ArgumentMap(trap, CallingConvention.WindowsX64, _process.Space);

        var slotBySlot = Decoder.DecodeEntry("NtCreateFile", map, _process.Space);
        var inOneGo = Decoder.DecodeEntry("NtCreateFile", map, _process.Space, stackPointer: trap.Registers.Rsp);

        Assert.That(inOneGo, Is.EquivalentTo(slotBySlot));
        Assert.That(inOneGo["CreateDisposition"], Is.EqualTo("FILE_OPEN_IF"));
    }

    [Test]
    public void A_stack_that_ends_at_an_unmapped_page_gives_values_then_markers()
    {
        // The stack's last mapped page ends 0x38 bytes above rsp: slots at rsp+0x28 and rsp+0x30 are readable, the rest not.
        var top = _thread.StackTop;
        var rsp = top - 0x38;
        _process.Write64(rsp + 0x28, 0x80);
        _process.Write64(rsp + 0x30, 7);
        var trap = _guest.Enter(0, _thread, 0, [0, 0x120089, 0, 0]);
        var registers = trap.Registers;
        registers.Rsp = rsp;
        var moved = new Nitro.Reactive.Events.NitroEvent(0, trap.Direction, trap.Mechanism, in registers, in trap.SpecialRegisters, 0);

        var d = Decoder.DecodeEntry("NtCreateFile", new ArgumentMap(moved, CallingConvention.WindowsX64, _process.Space), _process.Space, stackPointer: rsp);

        Assert.That(d["AllocationSize"], Is.EqualTo(new Unreadable(0x80, "not mapped")), "slot 4 holds 0x80, a pointer to nothing");
        Assert.That(d["FileAttributes"], Is.EqualTo("FILE_ATTRIBUTE_READONLY|FILE_ATTRIBUTE_HIDDEN|FILE_ATTRIBUTE_SYSTEM"));
        Assert.That(d["ShareAccess"], Is.EqualTo(new Unreadable(top, "not mapped")));
        Assert.That(d["EaLength"], Is.InstanceOf<Unreadable>());
    }

    [Test]
    public void Ntstatus_values_are_named_and_unknown_ones_stay_hex()
    {
        Assert.That(NtStatus.Format(0xC0000022), Is.EqualTo("STATUS_ACCESS_DENIED"));
        Assert.That(NtStatus.Format(0x00000103), Is.EqualTo("STATUS_PENDING"));
        Assert.That(NtStatus.Format(0xC0DE0001), Is.EqualTo("0xc0de0001"));
        Assert.That((NtStatus.IsSuccess(0x40000000), NtStatus.IsSuccess(0x80000005)), Is.EqualTo((true, false)));
    }

    private IReadOnlyDictionary<string, object?> Decode(string name, ulong[] arguments)
    {
        var trap = _guest.Enter(0, _thread, 0, arguments);
        return Decoder.DecodeEntry(name, new ArgumentMap(trap, CallingConvention.WindowsX64, _process.Space), _process.Space);
    }

    private IReadOnlyDictionary<string, object?> DecodeExit(string name, ulong status, ulong[] arguments)
    {
        var trap = _guest.Enter(0, _thread, 0, arguments);
        return Decoder.DecodeExit(name, status, new ArgumentMap(trap, CallingConvention.WindowsX64, _process.Space), _process.Space);
    }
}
