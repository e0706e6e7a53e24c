using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;

namespace Nitro.Backends.Windows.Tests.Images;

public sealed class WindowsKernelImageTests
{
    [TestCase("7", TestData.Win7Guid)]
    [TestCase("10", TestData.Win10Guid)]
    public void The_kernel_is_found_below_the_idt_handler_with_its_codeview_pdb_identity(string version, string guid)
    {
        var guest = version == "7" ? Guests.Windows7(wine: false) : Guests.Windows10(wine: false);

        var image = WindowsKernelImage.Locate(guest.Memory, guest.KernelRegisters());

        Assert.That(image.ImageBase, Is.EqualTo(guest.KernelBase));
        Assert.That(image.DirectoryTableBase, Is.EqualTo(guest.KernelRoot));
        Assert.That(image.Identity, Is.EqualTo(new PdbIdentity("ntkrnlmp.pdb", Guid.ParseExact(guid, "N"), 1)));
    }

    [Test]
    public void Create_picks_the_symbol_table_named_by_the_kernel_from_a_volatility_symbols_directory()
    {
        var guest = Guests.Windows10(wine: false);
        var symbols = Directory.CreateTempSubdirectory("nitro-symbols-").FullName;
        try
        {
            var directory = Path.Combine(symbols, "windows", "ntkrnlmp.pdb");
            Directory.CreateDirectory(directory);
            File.Copy(TestData.Win10IsfPath, Path.Combine(directory, TestData.Win10Guid + "-1.json.xz"));
            var thread = guest.AddThread(guest.AddProcess(1000, 4, "x.exe", null, "x"), 1004);

            var backend = WindowsBackend.Create(guest.Memory, guest.KernelRegisters(), symbols);
            var call = backend.TraceOne(guest.Enter(0, thread, 0x0f, [4]));

            Assert.That(backend.Profile.Identity!.GuidText, Is.EqualTo(TestData.Win10Guid));
            Assert.That((call.Name, call.Process!.Name), Is.EqualTo(("NtClose", "x.exe")));
        }
        finally
        {
            Directory.Delete(symbols, recursive: true);
        }
    }

    [Test]
    public void Create_without_the_table_says_which_file_is_needed()
    {
        var guest = Guests.Windows7(wine: false);

        var error = Assert.Throws<WindowsProfileException>(() => WindowsBackend.Create(guest.Memory, guest.KernelRegisters(), "/nonexistent/symbols"));

        Assert.That(error!.Message, Does.Contain($"windows/ntkrnlmp.pdb/{TestData.Win7Guid}-1.json.xz"));
    }

    [Test]
    public void An_idt_that_points_outside_the_kernel_half_is_refused()
    {
        var guest = Guests.Windows7(wine: false);
        var registers = guest.KernelRegisters();

        var error = Assert.Throws<WindowsProfileException>(() => WindowsKernelImage.Locate(guest.Memory, registers, hint: 0x401000));

        Assert.That(error!.Message, Does.Contain("not a kernel address"));
    }

    [Test]
    public void No_image_below_the_hint_is_a_clear_error_after_a_bounded_search()
    {
        var guest = Guests.Windows7(wine: false);

        var error = Assert.Throws<WindowsProfileException>(() => WindowsKernelImage.Locate(guest.Memory, guest.KernelRegisters(), hint: 0xFFFF_F900_0000_0000));

        Assert.That(error!.Message, Does.Contain("No x64 kernel image"));
    }
}
