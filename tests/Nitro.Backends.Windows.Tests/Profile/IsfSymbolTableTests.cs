using Nitro.Backends.Windows.Profile;

namespace Nitro.Backends.Windows.Tests.Profile;

public sealed class IsfSymbolTableTests
{
    [Test]
    public void Reads_the_pdb_identity_from_the_metadata()
    {
        Assert.Multiple(() =>
        {
            Assert.That((TestData.Win7Isf.PdbName, TestData.Win7Isf.Guid, TestData.Win7Isf.Age), Is.EqualTo(("ntkrnlmp.pdb", TestData.Win7Guid, 1)));
            Assert.That((TestData.Win10Isf.PdbName, TestData.Win10Isf.Guid, TestData.Win10Isf.Age), Is.EqualTo(("ntkrnlmp.pdb", TestData.Win10Guid, 1)));
        });
    }

    [Test]
    public void Reads_struct_field_offsets_that_agree_with_the_published_ones()
    {
        // FACTS §4 (Volatility 2 profiles, ntdiff): 7 SP1 / 10.
        (string Type, string Field, int Win7, int Win10)[] expected =
        [
            ("_EPROCESS", "UniqueProcessId", 0x180, 0x440),
            ("_EPROCESS", "ActiveProcessLinks", 0x188, 0x448),
            ("_EPROCESS", "ImageFileName", 0x2e0, 0x5a8),
            ("_EPROCESS", "Peb", 0x338, 0x550),
            ("_KPROCESS", "DirectoryTableBase", 0x28, 0x28),
            ("_KTHREAD", "Teb", 0xb8, 0xf0),
            ("_KPCR", "Prcb", 0x180, 0x180),
        ];
        foreach (var (type, field, win7, win10) in expected)
        {
            Assert.That(TestData.Win7Isf.TryGetFieldOffset(type, field, out var seven), Is.True, $"{type}.{field}");
            Assert.That(TestData.Win10Isf.TryGetFieldOffset(type, field, out var ten), Is.True, $"{type}.{field}");
            Assert.That((seven, ten), Is.EqualTo((win7, win10)), $"{type}.{field}");
        }
    }

    [Test]
    public void Reads_symbols_and_names_the_function_at_an_address()
    {
        Assert.That(TestData.Win7Isf.TryGetSymbol("NtCreateFile", out var rva), Is.True);
        Assert.That(TestData.Win7Isf.TryGetSymbolAt(rva, out var name), Is.True);
        Assert.That(name, Is.EqualTo("NtCreateFile"));
        Assert.That(TestData.Win7Isf.TryGetSymbol("NoSuchSymbolAnywhere", out _), Is.False);
        Assert.That(TestData.Win10Isf.SymbolCount, Is.GreaterThan(TestData.Win7Isf.SymbolCount));
    }

    [Test]
    public void Reads_plain_json_as_well_as_xz()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-isf-{Guid.NewGuid():N}.json");
        try
        {
            using (var xz = new SharpCompress.Compressors.Xz.XZStream(File.OpenRead(TestData.Win7IsfPath)))
            using (var json = File.Create(path))
            {
                xz.CopyTo(json);
            }

            var table = IsfSymbolTable.Load(path);
            Assert.That(table.TryGetSymbol("KiSystemCall64", out var plain) && TestData.Win7Isf.TryGetSymbol("KiSystemCall64", out var packed) && plain == packed, Is.True);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_truncated_table_is_a_profile_error_that_names_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-isf-{Guid.NewGuid():N}.json.xz");
        try
        {
            var bytes = File.ReadAllBytes(TestData.Win7IsfPath);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            var error = Assert.Throws<WindowsProfileException>(() => IsfSymbolTable.Load(path));
            Assert.That(error!.Message, Does.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Json_that_is_not_a_symbol_table_is_refused()
    {
        using var stream = new MemoryStream("{\"hello\": 1}"u8.ToArray());
        var error = Assert.Throws<WindowsProfileException>(() => IsfSymbolTable.Parse(stream, "hello.json"));
        Assert.That(error!.Message, Does.Contain("hello.json").And.Contain("not a Volatility 3 symbol table"));
    }
}
