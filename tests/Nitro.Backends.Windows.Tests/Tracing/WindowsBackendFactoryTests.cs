using System.Buffers.Binary;
using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tests.Tracing;

/// <summary>The back end of a live session, created from guest memory alone (no CR3, no IDT), as the plugin listener needs it.</summary>
public sealed class WindowsBackendFactoryTests
{
    [TestCase("7", TestData.Win7Guid, 0x0c)]
    [TestCase("10", TestData.Win10Guid, 0x0f)]
    public void A_kernel_is_found_from_physical_memory_alone_and_traced(string version, string guid, int ntClose)
    {
        var guest = version == "7" ? Guests.Windows7(wine: false) : Guests.Windows10(wine: false);
        var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, "x.exe"), 1004);
        var factory = new WindowsBackendFactory(TestData.DataDirectory);

        var created = factory.TryCreate(guest.Memory, out var backend, out var notReady);

        Assert.That(created, Is.True, notReady);
        var windows = (WindowsBackend)backend!;
        Assert.That((windows.Kernel.ImageBase, windows.Kernel.DirectoryTableBase), Is.EqualTo((guest.KernelBase, guest.KernelRoot)));
        Assert.That(windows.Profile.Identity!.GuidText, Is.EqualTo(guid));
        var call = windows.TraceOne(guest.Enter(0, thread, ntClose, [0x44]));
        Assert.That((call.Name, call.Process!.Name, call.ThreadId), Is.EqualTo(("NtClose", "x.exe", (long?)1004)));
        var plan = windows.CreatePlan(["NtClose"], TrapStyle.Callback);
        Assert.That(plan.Frames!.KernelPageTableRoot, Is.EqualTo(guest.KernelRoot));
    }

    [Test]
    public void The_scan_may_find_a_process_root_first_but_the_back_end_reads_through_the_system_process()
    {
        var guest = Guests.Windows10(wine: false);
        GuestProcess process;
        do
        {
            process = guest.AddProcess(1000, 4, "x.exe", null, "x.exe");
        }
        while (process.Root < 0x1A_0000);

        Assert.That(process.Root, Is.LessThan(0x2A_0000UL), "the process's table lies in the range scanned first");
        var found = WindowsKernelImage.Find(guest.Memory);
        var created = new WindowsBackendFactory(TestData.DataDirectory).TryCreate(guest.Memory, out var backend, out var notReady);

        Assert.That((found.ImageBase, found.DirectoryTableBase), Is.EqualTo((guest.KernelBase, process.Root)));
        Assert.That(created, Is.True, notReady);
        Assert.That(((WindowsBackend)backend!).Kernel.DirectoryTableBase, Is.EqualTo(guest.KernelRoot));
    }

    [Test]
    public void Until_the_service_table_is_filled_the_guest_is_not_ready_and_then_it_is()
    {
        var guest = new SyntheticWindowsGuest(TestData.Win10Isf, Guests.Win10KernelBase, 1, selfReferenceIndex: Guests.Win10SelfReferenceIndex);
        guest.WriteKernel64(guest.Symbol("KeServiceDescriptorTable"), 0); // the image's .data is mapped, still zero
        var factory = new WindowsBackendFactory(TestData.DataDirectory);

        var early = factory.TryCreate(guest.Memory, out _, out var notReady);
        guest.WriteServiceTable(Guests.Win10Calls);
        var later = factory.TryCreate(guest.Memory, out var backend, out var stillNotReady);

        Assert.That(early, Is.False);
        Assert.That(notReady, Does.Contain("service table").And.Contain($"0x{guest.KernelBase:x}"));
        Assert.That(later, Is.True, stillNotReady);
        Assert.That(backend, Is.InstanceOf<WindowsBackend>());
    }

    [Test]
    public void Until_the_system_process_exists_the_guest_is_not_ready()
    {
        var guest = Guests.Windows7(wine: false);
        guest.WriteKernel64(guest.Symbol("PsInitialSystemProcess"), 0);

        var created = new WindowsBackendFactory(TestData.DataDirectory).TryCreate(guest.Memory, out var backend, out var notReady);

        Assert.That((created, backend), Is.EqualTo((false, (Nitro.Reactive.Backends.SyscallBackend?)null)));
        Assert.That(notReady, Does.Contain("System process"));
    }

    [Test]
    public void Without_the_symbol_table_the_reason_names_the_file_to_add()
    {
        var guest = Guests.Windows10(wine: false);

        var created = WindowsBackendFactory.Default.TryCreate(guest.Memory, out _, out var notReady);

        Assert.That(created, Is.False);
        Assert.That(notReady, Does.Contain($"windows/ntkrnlmp.pdb/{TestData.Win10Guid}-1.json.xz"));
    }

    [Test]
    public void A_kernel_image_that_is_not_mapped_yet_is_reported_as_such()
    {
        var guest = Guests.Windows10(wine: false);
        guest.Unmap(guest.KernelRoot, guest.KernelBase);

        var created = WindowsBackendFactory.Default.TryCreate(guest.Memory, out _, out var notReady);

        Assert.That(created, Is.False);
        Assert.That(notReady, Does.Contain("none maps an x64 PE image").And.Contain("ntkrnlmp.pdb"));
    }

    [TestCase("empty")]
    [TestCase("zeros")]
    [TestCase("random")]
    [TestCase("every page a looping root")]
    public void Memory_that_is_not_windows_is_refused_with_a_reason_in_bounded_time(string kind)
    {
        var ram = Hostile(kind);
        var factory = new WindowsBackendFactory(TestData.DataDirectory);
        string? notReady = null;
        var created = true;

        var task = Task.Run(() => created = factory.TryCreate(new ArrayGuestMemory(ram), out _, out notReady));

        Assert.That(task.Wait(TimeSpan.FromSeconds(60)), Is.True, "the scans are bounded");
        Assert.That(created, Is.False);
        Assert.That(notReady, Does.Contain("not 64-bit Windows"));
    }

    [Test]
    public void A_cancelled_scan_ends_with_cancellation()
    {
        var guest = Guests.Windows7(wine: false);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.That(() => WindowsBackendFactory.Default.TryCreate(guest.Memory, out _, out _, cancelled.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void A_root_maps_itself_once_through_a_supervisor_entry_in_the_upper_half()
    {
        const ulong At = 0x1A_B000;
        var table = new byte[0x1000];
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(0x1F0 * 8), 0x20_0063);
        var self = At | 0x63;

        Assert.That(PageTableRoots.IsRoot(With(table, 0x1ED, self), At, out var index) && index == 0x1ED, Is.True);
        Assert.That(PageTableRoots.IsRoot(With(table, 0x0ED, self), At, out _), Is.False, "in the user half");
        Assert.That(PageTableRoots.IsRoot(With(table, 0x1ED, self | 4), At, out _), Is.False, "user-accessible");
        Assert.That(PageTableRoots.IsRoot(With(With(table, 0x1ED, self), 0x1EE, self), At, out _), Is.False, "twice");
        Assert.That(PageTableRoots.IsRoot(With(With(table, 0x1ED, self), 0x1F1, 0x30_0073), At, out _), Is.False, "an uncached entry");
        Assert.That(PageTableRoots.IsRoot(With(new byte[0x1000], 0x1ED, self), At, out _), Is.False, "maps nothing else of the kernel");
    }

    private static byte[] With(byte[] table, int index, ulong entry)
    {
        var copy = (byte[])table.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(index * 8), entry);
        return copy;
    }

    /// <summary>Guest RAM that is not Windows: nothing, zeros, noise, or tables built to make a scanner walk in circles.</summary>
    private static byte[] Hostile(string kind)
    {
        switch (kind)
        {
            case "empty":
                return [];
            case "zeros":
                return new byte[32 << 20];
            case "random":
                var noise = new byte[32 << 20];
                new Random(7).NextBytes(noise);
                return noise;
            default:
                // Every page is a root that maps itself and, everywhere else in the upper half, page 0x1000
                // as a table whose every entry is a present large page, so each root leads to 2^18 page starts.
                var ram = new byte[16 << 20];
                for (var page = 0x1000; page < ram.Length; page += 0x1000)
                {
                    for (var i = 0x100; i < 0x200; i++)
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(ram.AsSpan(page + (i * 8)), i == 0x1ED ? (ulong)page | 0x63 : 0x1000 | 0xE3);
                    }

                    ram[page] = (byte)'M';
                    ram[page + 1] = (byte)'Z';
                }

                return ram;
        }
    }
}
