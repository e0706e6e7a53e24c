using System.Collections.Frozen;
using static Nitro.Backends.Windows.Decoding.NtKind;

namespace Nitro.Backends.Windows.Decoding;

/// <summary>The prototypes of the NT calls the decoder knows by argument (names as in the DDK / phnt headers).</summary>
internal static class NtSignatures
{
    public static readonly FrozenDictionary<string, NtParameter[]> All = Build();

    private static NtParameter P(string name, NtKind kind, NamedValues? names = null, int aux = -1) => new(name, kind, names, aux);

    private static NtParameter[] Io(NamedValues? _ = null) =>
        [P("FileHandle", Handle), P("Event", Handle), P("ApcRoutine", Pointer), P("ApcContext", Pointer), P("IoStatusBlock", Pointer)];

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "A table, one line per call.")]
    private static FrozenDictionary<string, NtParameter[]> Build()
    {
        var f = NtFlags.FileAccess;
        var k = NtFlags.KeyAccess;
        var table = new Dictionary<string, NtParameter[]>(StringComparer.Ordinal)
        {
            // Files
            ["NtCreateFile"] = [P("FileHandle", OutHandle), P("DesiredAccess", Access, f), P("ObjectAttributes", ObjectAttributes), P("IoStatusBlock", Pointer), P("AllocationSize", LargeInteger), P("FileAttributes", Named, NtFlags.FileAttributes), P("ShareAccess", Named, NtFlags.ShareAccess), P("CreateDisposition", Named, NtFlags.CreateDisposition), P("CreateOptions", Named, NtFlags.CreateOptions), P("EaBuffer", Pointer), P("EaLength", ULong)],
            ["NtOpenFile"] = [P("FileHandle", OutHandle), P("DesiredAccess", Access, f), P("ObjectAttributes", ObjectAttributes), P("IoStatusBlock", Pointer), P("ShareAccess", Named, NtFlags.ShareAccess), P("OpenOptions", Named, NtFlags.CreateOptions)],
            ["NtReadFile"] = [.. Io(), P("Buffer", Pointer), P("Length", ULong), P("ByteOffset", LargeInteger), P("Key", Pointer)],
            ["NtWriteFile"] = [.. Io(), P("Buffer", NtKind.Buffer, aux: 6), P("Length", ULong), P("ByteOffset", LargeInteger), P("Key", Pointer)],
            ["NtDeleteFile"] = [P("ObjectAttributes", ObjectAttributes)],
            ["NtSetInformationFile"] = [P("FileHandle", Handle), P("IoStatusBlock", Pointer), P("FileInformation", Pointer), P("Length", ULong), P("FileInformationClass", ULong)],
            ["NtQueryInformationFile"] = [P("FileHandle", Handle), P("IoStatusBlock", Pointer), P("FileInformation", Pointer), P("Length", ULong), P("FileInformationClass", ULong)],
            ["NtQueryDirectoryFile"] = [.. Io(), P("FileInformation", Pointer), P("Length", ULong), P("FileInformationClass", ULong), P("ReturnSingleEntry", NtKind.Boolean), P("FileName", UnicodeString), P("RestartScan", NtKind.Boolean)],
            ["NtQueryAttributesFile"] = [P("ObjectAttributes", ObjectAttributes), P("FileInformation", Pointer)],
            ["NtQueryFullAttributesFile"] = [P("ObjectAttributes", ObjectAttributes), P("FileInformation", Pointer)],
            ["NtFlushBuffersFile"] = [P("FileHandle", Handle), P("IoStatusBlock", Pointer)],
            ["NtDeviceIoControlFile"] = [.. Io(), P("IoControlCode", Pointer), P("InputBuffer", NtKind.Buffer, aux: 7), P("InputBufferLength", ULong), P("OutputBuffer", Pointer), P("OutputBufferLength", ULong)],
            ["NtFsControlFile"] = [.. Io(), P("FsControlCode", Pointer), P("InputBuffer", NtKind.Buffer, aux: 7), P("InputBufferLength", ULong), P("OutputBuffer", Pointer), P("OutputBufferLength", ULong)],

            // Registry
            ["NtCreateKey"] = [P("KeyHandle", OutHandle), P("DesiredAccess", Access, k), P("ObjectAttributes", ObjectAttributes), P("TitleIndex", ULong), P("Class", UnicodeString), P("CreateOptions", Named, NtFlags.KeyOptions), P("Disposition", OutNamed, NtFlags.KeyDisposition)],
            ["NtOpenKey"] = [P("KeyHandle", OutHandle), P("DesiredAccess", Access, k), P("ObjectAttributes", ObjectAttributes)],
            ["NtOpenKeyEx"] = [P("KeyHandle", OutHandle), P("DesiredAccess", Access, k), P("ObjectAttributes", ObjectAttributes), P("OpenOptions", Named, NtFlags.KeyOptions)],
            ["NtSetValueKey"] = [P("KeyHandle", Handle), P("ValueName", UnicodeString), P("TitleIndex", ULong), P("Type", Named, NtFlags.RegistryType), P("Data", NtKind.Buffer, aux: 5), P("DataSize", ULong)],
            ["NtQueryValueKey"] = [P("KeyHandle", Handle), P("ValueName", UnicodeString), P("KeyValueInformationClass", ULong), P("KeyValueInformation", Pointer), P("Length", ULong), P("ResultLength", Pointer)],
            ["NtDeleteKey"] = [P("KeyHandle", Handle)],
            ["NtDeleteValueKey"] = [P("KeyHandle", Handle), P("ValueName", UnicodeString)],
            ["NtEnumerateKey"] = [P("KeyHandle", Handle), P("Index", ULong), P("KeyInformationClass", ULong), P("KeyInformation", Pointer), P("Length", ULong), P("ResultLength", Pointer)],
            ["NtEnumerateValueKey"] = [P("KeyHandle", Handle), P("Index", ULong), P("KeyValueInformationClass", ULong), P("KeyValueInformation", Pointer), P("Length", ULong), P("ResultLength", Pointer)],
            ["NtQueryKey"] = [P("KeyHandle", Handle), P("KeyInformationClass", ULong), P("KeyInformation", Pointer), P("Length", ULong), P("ResultLength", Pointer)],

            // Processes and threads
            ["NtCreateUserProcess"] = [P("ProcessHandle", OutHandle), P("ThreadHandle", OutHandle), P("ProcessDesiredAccess", Access, NtFlags.ProcessAccess), P("ThreadDesiredAccess", Access, NtFlags.ThreadAccess), P("ProcessObjectAttributes", ObjectAttributes), P("ThreadObjectAttributes", ObjectAttributes), P("ProcessFlags", Pointer), P("ThreadFlags", Pointer), P("ProcessParameters", ProcessParameters), P("CreateInfo", Pointer), P("AttributeList", Pointer)],
            ["NtCreateProcessEx"] = [P("ProcessHandle", OutHandle), P("DesiredAccess", Access, NtFlags.ProcessAccess), P("ObjectAttributes", ObjectAttributes), P("ParentProcess", Handle), P("Flags", Pointer), P("SectionHandle", Handle), P("DebugPort", Handle), P("ExceptionPort", Handle), P("InJob", NtKind.Boolean)],
            ["NtOpenProcess"] = [P("ProcessHandle", OutHandle), P("DesiredAccess", Access, NtFlags.ProcessAccess), P("ObjectAttributes", ObjectAttributes), P("ClientId", ClientId)],
            ["NtTerminateProcess"] = [P("ProcessHandle", Handle), P("ExitStatus", Status)],
            ["NtQueryInformationProcess"] = [P("ProcessHandle", Handle), P("ProcessInformationClass", ULong), P("ProcessInformation", Pointer), P("ProcessInformationLength", ULong), P("ReturnLength", Pointer)],
            ["NtSetInformationProcess"] = [P("ProcessHandle", Handle), P("ProcessInformationClass", ULong), P("ProcessInformation", Pointer), P("ProcessInformationLength", ULong)],
            ["NtCreateThreadEx"] = [P("ThreadHandle", OutHandle), P("DesiredAccess", Access, NtFlags.ThreadAccess), P("ObjectAttributes", ObjectAttributes), P("ProcessHandle", Handle), P("StartRoutine", Pointer), P("Argument", Pointer), P("CreateFlags", Pointer), P("ZeroBits", Size), P("StackSize", Size), P("MaximumStackSize", Size), P("AttributeList", Pointer)],
            ["NtOpenThread"] = [P("ThreadHandle", OutHandle), P("DesiredAccess", Access, NtFlags.ThreadAccess), P("ObjectAttributes", ObjectAttributes), P("ClientId", ClientId)],
            ["NtTerminateThread"] = [P("ThreadHandle", Handle), P("ExitStatus", Status)],
            ["NtSuspendThread"] = [P("ThreadHandle", Handle), P("PreviousSuspendCount", Pointer)],
            ["NtResumeThread"] = [P("ThreadHandle", Handle), P("PreviousSuspendCount", Pointer)],
            ["NtSetInformationThread"] = [P("ThreadHandle", Handle), P("ThreadInformationClass", ULong), P("ThreadInformation", Pointer), P("ThreadInformationLength", ULong)],
            ["NtGetContextThread"] = [P("ThreadHandle", Handle), P("ThreadContext", Pointer)],
            ["NtSetContextThread"] = [P("ThreadHandle", Handle), P("ThreadContext", Pointer)],
            ["NtQueueApcThread"] = [P("ThreadHandle", Handle), P("ApcRoutine", Pointer), P("ApcArgument1", Pointer), P("ApcArgument2", Pointer), P("ApcArgument3", Pointer)],

            // Memory and sections
            ["NtAllocateVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", InOutPointer), P("ZeroBits", Size), P("RegionSize", InOutSize), P("AllocationType", Named, NtFlags.AllocationType), P("Protect", Named, NtFlags.Protection)],
            ["NtFreeVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", InOutPointer), P("RegionSize", InOutSize), P("FreeType", Named, NtFlags.AllocationType)],
            ["NtProtectVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", InOutPointer), P("RegionSize", InOutSize), P("NewProtect", Named, NtFlags.Protection), P("OldProtect", OutNamed, NtFlags.Protection)],
            ["NtWriteVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", Pointer), P("Buffer", NtKind.Buffer, aux: 3), P("NumberOfBytesToWrite", Size), P("NumberOfBytesWritten", Pointer)],
            ["NtReadVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", Pointer), P("Buffer", Pointer), P("NumberOfBytesToRead", Size), P("NumberOfBytesRead", Pointer)],
            ["NtQueryVirtualMemory"] = [P("ProcessHandle", Handle), P("BaseAddress", Pointer), P("MemoryInformationClass", ULong), P("MemoryInformation", Pointer), P("MemoryInformationLength", Size), P("ReturnLength", Pointer)],
            ["NtCreateSection"] = [P("SectionHandle", OutHandle), P("DesiredAccess", Access, NtFlags.SectionAccess), P("ObjectAttributes", ObjectAttributes), P("MaximumSize", LargeInteger), P("SectionPageProtection", Named, NtFlags.Protection), P("AllocationAttributes", Named, NtFlags.SectionAttributes), P("FileHandle", Handle)],
            ["NtOpenSection"] = [P("SectionHandle", OutHandle), P("DesiredAccess", Access, NtFlags.SectionAccess), P("ObjectAttributes", ObjectAttributes)],
            ["NtMapViewOfSection"] = [P("SectionHandle", Handle), P("ProcessHandle", Handle), P("BaseAddress", InOutPointer), P("ZeroBits", Size), P("CommitSize", Size), P("SectionOffset", LargeInteger), P("ViewSize", InOutSize), P("InheritDisposition", ULong), P("AllocationType", Named, NtFlags.AllocationType), P("Win32Protect", Named, NtFlags.Protection)],
            ["NtUnmapViewOfSection"] = [P("ProcessHandle", Handle), P("BaseAddress", Pointer)],

            // Drivers, synchronization, objects
            ["NtLoadDriver"] = [P("DriverServiceName", UnicodeString)],
            ["NtUnloadDriver"] = [P("DriverServiceName", UnicodeString)],
            ["NtDelayExecution"] = [P("Alertable", NtKind.Boolean), P("DelayInterval", LargeInteger)],
            ["NtCreateMutant"] = [P("MutantHandle", OutHandle), P("DesiredAccess", Access, NtFlags.MutantAccess), P("ObjectAttributes", ObjectAttributes), P("InitialOwner", NtKind.Boolean)],
            ["NtOpenMutant"] = [P("MutantHandle", OutHandle), P("DesiredAccess", Access, NtFlags.MutantAccess), P("ObjectAttributes", ObjectAttributes)],
            ["NtCreateEvent"] = [P("EventHandle", OutHandle), P("DesiredAccess", Access, NtFlags.EventAccess), P("ObjectAttributes", ObjectAttributes), P("EventType", ULong), P("InitialState", NtKind.Boolean)],
            ["NtOpenEvent"] = [P("EventHandle", OutHandle), P("DesiredAccess", Access, NtFlags.EventAccess), P("ObjectAttributes", ObjectAttributes)],
            ["NtOpenSymbolicLinkObject"] = [P("LinkHandle", OutHandle), P("DesiredAccess", Access, NtFlags.AccessMask), P("ObjectAttributes", ObjectAttributes)],
            ["NtWaitForSingleObject"] = [P("Handle", Handle), P("Alertable", NtKind.Boolean), P("Timeout", LargeInteger)],
            ["NtDuplicateObject"] = [P("SourceProcessHandle", Handle), P("SourceHandle", Handle), P("TargetProcessHandle", Handle), P("TargetHandle", OutHandle), P("DesiredAccess", Access, NtFlags.AccessMask), P("HandleAttributes", Pointer), P("Options", Pointer)],
            ["NtQuerySystemInformation"] = [P("SystemInformationClass", ULong), P("SystemInformation", Pointer), P("SystemInformationLength", ULong), P("ReturnLength", Pointer)],
            ["NtClose"] = [P("Handle", Handle)],
        };
        return table.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
