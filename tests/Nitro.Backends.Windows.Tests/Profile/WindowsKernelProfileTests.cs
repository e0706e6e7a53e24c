using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;

namespace Nitro.Backends.Windows.Tests.Profile;

public sealed class WindowsKernelProfileTests
{
    [Test]
    public void A_symbol_table_gives_the_offsets_of_the_published_table()
    {
        var seven = WindowsKernelProfile.FromSymbolTable(TestData.Win7Isf).Offsets;
        var ten = WindowsKernelProfile.FromSymbolTable(TestData.Win10Isf).Offsets;
        Assert.Multiple(() =>
        {
            Assert.That((seven.KthreadApcStateProcess, ten.KthreadApcStateProcess), Is.EqualTo((0x70, 0xb8)));
            Assert.That((seven.EthreadCid, ten.EthreadCid), Is.EqualTo((0x3b8, 0x478)));
            Assert.That((seven.EprocessCreateTime, ten.EprocessCreateTime), Is.EqualTo((0x168, 0x468)));
            Assert.That((seven.EprocessWow64Process, ten.EprocessWow64Process), Is.EqualTo((0x320, 0x580)));
            Assert.That((seven.EprocessSeAuditProcessCreationInfo, ten.EprocessSeAuditProcessCreationInfo), Is.EqualTo((0x390, 0x5c0)));
            Assert.That((seven.KthreadTrapFrame, ten.KthreadTrapFrame), Is.EqualTo((0x1d8, 0x90)));
            Assert.That(seven.KpcrPrcb + seven.KprcbCurrentThread, Is.EqualTo(0x188), "gs:[0x188] is the current thread");
            Assert.That(ten.KpcrPrcb + ten.KprcbCurrentThread, Is.EqualTo(0x188), "gs:[0x188] is the current thread");
        });
    }

    [Test]
    public void The_trap_frame_layout_comes_from_the_table_and_matches_the_built_in_one()
    {
        Assert.That(WindowsKernelProfile.FromSymbolTable(TestData.Win7Isf).Offsets.TrapFrame, Is.EqualTo(KtrapFrameLayout.X64));
        Assert.That(WindowsKernelProfile.FromSymbolTable(TestData.Win10Isf).Offsets.TrapFrame, Is.EqualTo(KtrapFrameLayout.X64));
    }

    [TestCase("7sp1", TestData.Win7Guid)]
    [TestCase("10-22h2", TestData.Win10Guid)]
    public void Built_in_offsets_equal_those_of_the_real_symbol_table(string builtIn, string guid)
    {
        var table = guid == TestData.Win7Guid ? TestData.Win7Isf : TestData.Win10Isf;
        var fromTable = WindowsKernelProfile.FromSymbolTable(table).Offsets;
        Assert.That(WindowsKernelProfile.BuiltIn(builtIn).Offsets, Is.EqualTo(fromTable));
    }

    [Test]
    public void Built_in_tables_are_picked_by_build_number()
    {
        Assert.Multiple(() =>
        {
            Assert.That(WindowsKernelProfile.ForBuild(7601).Offsets.EthreadCid, Is.EqualTo(0x3b8));
            Assert.That(WindowsKernelProfile.BuiltIn("7sp1-early").Offsets.EthreadCid, Is.EqualTo(0x3b0));
            Assert.That(WindowsKernelProfile.ForBuild(19045).Offsets.EprocessUniqueProcessId, Is.EqualTo(0x440));
            Assert.That(WindowsKernelProfile.ForBuild(22000).Offsets.EthreadCid, Is.EqualTo(0x4c8));
            Assert.That(WindowsKernelProfile.ForBuild(22631).Offsets.EthreadCid, Is.EqualTo(0x4c8));
            Assert.That(WindowsKernelProfile.ForBuild(26100).Offsets.EprocessUniqueProcessId, Is.EqualTo(0x1d0));
            Assert.That(WindowsKernelProfile.ForBuild(26100).Offsets.EthreadCid, Is.EqualTo(0x508));
            Assert.That(WindowsKernelProfile.ForBuild(26100).HasSymbols, Is.False);
        });
    }

    [Test]
    public void An_unknown_build_is_an_error_that_says_what_is_needed()
    {
        var error = Assert.Throws<WindowsProfileException>(() => WindowsKernelProfile.ForBuild(9600));
        Assert.That(error!.Message, Does.Contain("9600").And.Contain("symbol table"));
    }

    [Test]
    public void Resolve_finds_the_table_in_a_volatility_symbols_directory_by_pdb_identity()
    {
        var root = Directory.CreateTempSubdirectory("nitro-symbols-").FullName;
        try
        {
            var identity = new PdbIdentity("ntkrnlmp.pdb", Guid.ParseExact(TestData.Win10Guid, "N"), 1);
            var directory = Path.Combine(root, "windows", "ntkrnlmp.pdb");
            Directory.CreateDirectory(directory);
            File.Copy(TestData.Win10IsfPath, Path.Combine(directory, identity.IsfStem + ".json.xz"));

            var profile = WindowsKernelProfile.Resolve(identity, buildNumber: null, root);
            Assert.That(profile.HasSymbols, Is.True);
            Assert.That(profile.Identity, Is.EqualTo(identity));
            Assert.That(profile.TryGetSymbol("KiSystemCall64", out var entry) && entry == 4262400, Is.True);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void Resolve_falls_back_to_built_in_offsets_then_names_the_missing_file()
    {
        var identity = new PdbIdentity("ntkrnlmp.pdb", Guid.ParseExact("0123456789ABCDEF0123456789ABCDEF", "N"), 2);
        Assert.That(WindowsKernelProfile.Resolve(identity, 19045, symbolsDirectory: null).Name, Does.Contain("10-22h2"));
        var error = Assert.Throws<WindowsProfileException>(() => WindowsKernelProfile.Resolve(identity, 9200, "/nonexistent"));
        Assert.That(error!.Message, Does.Contain("windows/ntkrnlmp.pdb/0123456789ABCDEF0123456789ABCDEF-2.json.xz").And.Contain("/nonexistent"));
    }

    [Test]
    public void Describe_lists_offsets_and_symbols_by_name()
    {
        var values = WindowsKernelProfile.FromSymbolTable(TestData.Win7Isf).Describe().ToDictionary(p => p.Key, p => p.Value);
        Assert.That(values["EPROCESS.UniqueProcessId"], Is.EqualTo(0x180));
        Assert.That(values["ETHREAD.Cid.UniqueThread"], Is.EqualTo(0x3c0));
        TestData.Win7Isf.TryGetSymbol("PsActiveProcessHead", out var head);
        Assert.That(values["PsActiveProcessHead"], Is.EqualTo((long)head));
        Assert.That(WindowsKernelProfile.BuiltIn("11-24h2").Describe().Select(p => p.Key), Has.None.EqualTo("KiSystemCall64"));
    }
}
