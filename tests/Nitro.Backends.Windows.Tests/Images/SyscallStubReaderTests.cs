using System.Reflection.PortableExecutable;
using Nitro.Backends.Windows.Images;

namespace Nitro.Backends.Windows.Tests.Images;

public sealed class SyscallStubReaderTests
{
    [Test]
    public void Wine_ntdll_numbers_every_nt_call_alphabetically_from_zero()
    {
        var stubs = SyscallStubReader.Read(TestData.WineNtdll);
        var nt = stubs.Where(s => s.Name.StartsWith("Nt", StringComparison.Ordinal)).ToList();

        // Wine's own rule: its syscall table is the sorted list of names, numbered 0, 1, 2 …
        Assert.That(nt, Has.Count.GreaterThan(200));
        Assert.That(nt.Select(s => s.Name), Is.Ordered.Using((IComparer<string>)StringComparer.Ordinal));
        Assert.That(stubs.Select(s => s.Number), Is.EqualTo(Enumerable.Range(0, stubs.Count)));
        Assert.That(stubs.Select(s => s.Table), Is.All.EqualTo(0));
        Assert.That(nt.Single(s => s.Name == "NtClose").Number, Is.EqualTo(0x15));
        Assert.That(nt.Single(s => s.Name == "NtCreateFile").Number, Is.EqualTo(0x1d));
    }

    [Test]
    public void Zw_aliases_are_folded_into_their_nt_name()
    {
        var stubs = SyscallStubReader.Read(TestData.WineNtdll);
        Assert.That(stubs.Select(s => s.Name), Has.None.StartsWith("Zw"));
        Assert.That(stubs.Select(s => s.Rva), Is.Unique);
    }

    [Test]
    public void Wine_win32u_stubs_are_in_the_win32k_table()
    {
        var stubs = SyscallStubReader.Read(TestData.WineWin32u);
        Assert.That(stubs, Has.Count.GreaterThan(200));
        Assert.That(stubs.Select(s => s.Table), Is.All.EqualTo(1));
        Assert.That(stubs.Select(s => s.Number), Is.EqualTo(Enumerable.Range(0x1000, stubs.Count)));
        Assert.That(stubs.Select(s => s.Name), Is.All.StartsWith("Nt"));
    }

    [Test]
    public void A_mapped_image_gives_the_same_stubs_as_the_file()
    {
        var file = File.ReadAllBytes(TestData.WineNtdll);
        var mapped = PeImageMapper.Map(file);
        using var stream = new MemoryStream(mapped);
        Assert.That(SyscallStubReader.Read(stream, isLoadedImage: true), Is.EqualTo(SyscallStubReader.Read(TestData.WineNtdll)));
    }

    [Test]
    public void The_export_directory_is_found_by_rva_not_file_offset()
    {
        using var reader = new PEReader(File.OpenRead(TestData.WineNtdll));
        var rva = reader.PEHeaders.PEHeader!.ExportTableDirectory.RelativeVirtualAddress;
        reader.PEHeaders.TryGetDirectoryOffset(reader.PEHeaders.PEHeader.ExportTableDirectory, out var fileOffset);
        Assert.That(fileOffset, Is.Not.EqualTo(rva), "the case this test is about: RVA and file offset differ");
        Assert.That(SyscallStubReader.Read(TestData.WineNtdll), Is.Not.Empty);
    }

    [Test]
    public void A_file_that_is_not_a_pe_is_refused_with_a_pe_format_error()
    {
        using var stream = new MemoryStream("#!/bin/sh\necho not a dll\n"u8.ToArray());
        Assert.Throws<PeFormatException>(() => SyscallStubReader.Read(stream, isLoadedImage: false));
    }
}
