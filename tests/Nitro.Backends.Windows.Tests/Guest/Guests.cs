using System.Reactive.Linq;
using System.Reactive.Subjects;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Tests.Guest;

/// <summary>The two guests the back-end tests trace: Windows 7 SP1 (7601.24540) and Windows 10 (19041.3570), both from their real symbol tables.</summary>
internal static class Guests
{
    public const ulong Win7KernelBase = 0xFFFF_F800_0261_D000;
    public const ulong Win10KernelBase = 0xFFFF_F806_1A40_0000;

    /// <summary>NtCreateFile has 11 arguments, 7 of them on the stack; NtOpenFile's handler begins with a NOP (trappable).</summary>
    public static readonly Dictionary<string, int> StackArguments = new(StringComparer.Ordinal)
    {
        ["NtCreateFile"] = 7, ["NtOpenFile"] = 2, ["NtCreateUserProcess"] = 7, ["NtCreateThreadEx"] = 7, ["NtSetValueKey"] = 2,
        ["NtAllocateVirtualMemory"] = 2, ["NtWriteFile"] = 5, ["NtReadFile"] = 5, ["NtMapViewOfSection"] = 6, ["NtCreateSection"] = 3,
        ["NtDeviceIoControlFile"] = 6, ["NtProtectVirtualMemory"] = 1, ["NtWriteVirtualMemory"] = 1, ["NtCreateKey"] = 3,
    };

    public static readonly HashSet<string> NopHandlers = new(StringComparer.Ordinal) { "NtOpenFile" };

    /// <summary>Windows 10 22H2 / 11 24H2 numbers (FACTS §4, j00ru/windows-syscalls) for the calls these tests make.</summary>
    public static readonly (string Name, int Number)[] Win10Calls =
    [
        ("NtReadFile", 0x06), ("NtWriteFile", 0x08), ("NtClose", 0x0f), ("NtOpenKey", 0x12), ("NtAllocateVirtualMemory", 0x18),
        ("NtOpenFile", 0x33), ("NtCreateFile", 0x55), ("NtSetValueKey", 0x60), ("NtCreateThreadEx", 0xc2), ("NtCreateUserProcess", 0xc9),
    ];

    public static SyntheticWindowsGuest Windows7(int vcpus = 2, bool wine = true)
    {
        var guest = new SyntheticWindowsGuest(TestData.Win7Isf, Win7KernelBase, vcpus);
        if (wine)
        {
            guest.MapWine(File.ReadAllBytes(TestData.WineNtdll), File.ReadAllBytes(TestData.WineWin32u));
        }

        guest.WriteServiceTable(TestData.Win7NtTable(), StackArguments, NopHandlers);
        return guest;
    }

    /// <summary>The self-reference index of the Windows 10 guest: random since 1607, so not 0x1ED.</summary>
    public const int Win10SelfReferenceIndex = 0x1A7;

    public static SyntheticWindowsGuest Windows10(int vcpus = 2, bool wine = true)
    {
        var guest = new SyntheticWindowsGuest(TestData.Win10Isf, Win10KernelBase, vcpus, selfReferenceIndex: Win10SelfReferenceIndex);
        if (wine)
        {
            guest.MapWine(File.ReadAllBytes(TestData.WineNtdll), File.ReadAllBytes(TestData.WineWin32u));
        }

        guest.WriteServiceTable(Win10Calls, StackArguments, NopHandlers);
        return guest;
    }

    /// <summary>Runs events through the back end synchronously and returns what came out.</summary>
    public static List<Syscall> Trace(this WindowsBackend backend, params NitroEvent[] events)
    {
        var results = new List<Syscall>();
        using var subject = new Subject<NitroEvent>();
        Exception? error = null;
        using var subscription = backend.Process(subject).Subscribe(results.Add, e => error = e);
        foreach (var e in events)
        {
            subject.OnNext(e);
        }

        if (error is not null)
        {
            throw new InvalidOperationException("the back end failed", error);
        }

        return results;
    }

    public static Syscall TraceOne(this WindowsBackend backend, NitroEvent @event) => backend.Trace(@event).Single();
}
