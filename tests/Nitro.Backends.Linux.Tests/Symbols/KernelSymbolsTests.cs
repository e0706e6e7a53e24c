using System.Buffers.Binary;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Symbols;
using Nitro.Backends.Linux.Tests.Profile;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tests.Symbols;

public sealed class KernelSymbolsTests
{
    private static readonly SyntheticKernel s_kernel = SyntheticKernel.Create();
    private static readonly KernelSymbols s_symbols = KernelSymbols.Locate(s_kernel.Memory);

    [TestCase(KallsymsLayout.OffsetsFirst, false, 4)]
    [TestCase(KallsymsLayout.OffsetsFirst, true, 4)]
    [TestCase(KallsymsLayout.OffsetsFirst, false, 8)]
    [TestCase(KallsymsLayout.OffsetsFirst, true, 8)]
    [TestCase(KallsymsLayout.OffsetsAfterTokenIndex, false, 4)]
    [TestCase(KallsymsLayout.OffsetsAfterTokenIndex, true, 4)]
    public void Locate_decodes_every_symbol_in_each_table_layout(KallsymsLayout layout, bool sequences, int markerWidth)
    {
        var kernel = SyntheticKernel.Create(options: new KallsymsOptions(layout, sequences, markerWidth));

        var symbols = KernelSymbols.Locate(kernel.Memory);

        var expected = kernel.Symbols.OrderBy(s => s.Address).Select(s => new KernelSymbol(s.Name, s.Type, s.Address)).ToArray();
        Assert.That(symbols.Count, Is.EqualTo(expected.Length));
        Assert.That(symbols.Symbols.Select(s => s.Address), Is.EqualTo(expected.Select(s => s.Address)));
        Assert.That(symbols.Symbols.OrderBy(s => s.Name, StringComparer.Ordinal), Is.EqualTo(expected.OrderBy(s => s.Name, StringComparer.Ordinal)));
        Assert.That(symbols.TokenTablePhysicalAddress, Is.EqualTo(kernel.KallsymsPhysical + (ulong)kernel.Kallsyms.TokenTable));
    }

    [Test]
    public void Locate_finds_the_image_delta_past_a_decoy_banner()
    {
        Assert.That(s_symbols.ImageDelta, Is.EqualTo(s_kernel.Delta));
        Assert.That(s_symbols.PhysicalAddressOfImage(s_kernel.Text + 0x1234), Is.EqualTo(s_kernel.PhysicalText + 0x1234));
        Assert.That(s_symbols.ReadImageString(s_symbols.GetAddress("linux_banner")), Does.StartWith(s_kernel.Banner));
        Assert.That(s_symbols.ImageStart, Is.EqualTo(s_kernel.Text));
        Assert.That(s_symbols.ImageEnd, Is.EqualTo(s_kernel.Text + SyntheticKernel.EndOffset));
    }

    [Test]
    public void Per_cpu_symbols_keep_their_absolute_offset()
    {
        Assert.That(s_symbols.TryGetSymbol("current_task", out var current), Is.True);
        Assert.That(current, Is.EqualTo(new KernelSymbol("current_task", 'A', SyntheticKernel.CurrentTask)));
        Assert.That(s_symbols.Symbols[0].Address, Is.Zero, "per-cpu symbols sort first");
    }

    [Test]
    public void Names_of_128_or_more_compressed_bytes_use_the_two_byte_length()
    {
        var name = "a_very_long_symbol_name_" + new string('x', 300);
        Assert.That(s_symbols.TryGetAddress(name, out var address), Is.True);
        Assert.That(address, Is.EqualTo(s_kernel.Text + 0x8000));
    }

    [Test]
    public void Lookup_returns_the_nearest_symbol_at_or_below_the_address()
    {
        var read = s_symbols.GetAddress("__x64_sys_read");

        Assert.That(s_symbols.Lookup(read), Is.EqualTo(new SymbolLocation(new KernelSymbol("__x64_sys_read", 'T', read), 0)));
        Assert.That(s_symbols.Lookup(read + 5)!.Value.ToString(), Is.EqualTo("__x64_sys_read+0x5"));
        Assert.That(s_symbols.Lookup(s_kernel.Text + SyntheticKernel.EndOffset), Is.Null, "past _end");
        Assert.That(s_symbols.Lookup(0x1FB80), Is.Null, "per-cpu offsets are not image addresses");
        Assert.That(s_symbols.Lookup(0xFFFF_8880_0000_0000), Is.Null, "direct map");
    }

    [Test]
    public void GetSymbolsAt_returns_every_alias()
    {
        var names = s_symbols.GetSymbolsAt(s_kernel.Text + SyntheticKernel.NiSyscallOffset).Select(s => s.Name);

        Assert.That(names, Is.EquivalentTo(new[] { "__x64_sys_ni_syscall", "sys_ni_syscall" }));
        Assert.That(s_symbols.GetSymbolsAt(s_kernel.Text + SyntheticKernel.NiSyscallOffset + 1), Is.Empty);
    }

    [Test]
    public void GetAddress_of_a_missing_symbol_names_it()
    {
        var error = Assert.Throws<ProfileException>(() => s_symbols.GetAddress("no_such_symbol"));
        Assert.That(error!.Message, Does.Contain("no_such_symbol"));
        Assert.That(s_symbols.TryGetAddress("no_such_symbol", out _), Is.False);
    }

    [Test]
    public void ReadImage_refuses_addresses_outside_the_image()
    {
        var buffer = new byte[16];
        var error = Assert.Throws<ProfileException>(() => s_symbols.ReadImage(s_kernel.Text + SyntheticKernel.EndOffset - 8, buffer));
        Assert.That(error!.Message, Does.Contain("outside the kernel image"));
        Assert.That(s_symbols.TryReadImage(0xFFFF_8880_0000_0000, buffer), Is.False);
        Assert.That(s_symbols.ReadImageUInt64(s_symbols.GetAddress("sys_call_table")), Is.EqualTo(s_symbols.GetAddress("__x64_sys_read")));
    }

    [Test]
    public void Locate_in_memory_without_kallsyms_throws_a_clear_error()
    {
        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(1 << 20)));
        Assert.That(error!.Message, Does.Contain("No kallsyms token table"));
    }

    [Test]
    public void Locate_rejects_markers_that_disagree_with_the_names()
    {
        var bytes = SyntheticKernel.MemoryBytes(s_kernel.Memory);
        var marker = (int)s_kernel.KallsymsPhysical + s_kernel.Kallsyms.Markers + (4 * 3);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(marker), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(marker)) + 1);

        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(bytes)));
        Assert.That(error!.Message, Does.Contain($"token table at 0x{s_kernel.KallsymsPhysical + (ulong)s_kernel.Kallsyms.TokenTable:x}"));
    }

    [Test]
    public void Locate_rejects_unsorted_offsets()
    {
        var bytes = SyntheticKernel.MemoryBytes(s_kernel.Memory);
        var offset = (int)s_kernel.KallsymsPhysical + s_kernel.Kallsyms.Offsets + (4 * 100);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), -0x7000_0000);

        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(bytes)));
        Assert.That(error!.Message, Does.Contain("sorted kernel addresses"));
    }

    [Test]
    public void Locate_rejects_a_name_that_decodes_to_unprintable_bytes()
    {
        var bytes = SyntheticKernel.MemoryBytes(s_kernel.Memory);

        // Token 0 of the synthetic table is a filler string; make it hold a control character.
        var token0 = (int)s_kernel.KallsymsPhysical + s_kernel.Kallsyms.TokenTable;
        var names = (int)s_kernel.KallsymsPhysical + s_kernel.Kallsyms.Names;
        bytes[token0] = 0x07;
        bytes[names + 2] = 0;

        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(bytes)));
        Assert.That(error!.Message, Does.Contain("non-printable"));
    }

    [Test]
    public void Locate_without_the_banner_in_the_image_names_linux_banner()
    {
        var bytes = SyntheticKernel.MemoryBytes(s_kernel.Memory);
        bytes[(int)(s_kernel.PhysicalText + SyntheticKernel.BannerOffset)] = (byte)'X';

        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(bytes)));
        Assert.That(error!.Message, Does.Contain("linux_banner").And.Contain("consistent image delta"));
    }

    [Test]
    public void Locate_honours_cancellation()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.Throws<OperationCanceledException>(() => KernelSymbols.Locate(s_kernel.Memory, cancellation.Token));
    }
    [Test]
    public void Scan_finds_patterns_that_straddle_a_chunk_boundary()
    {
        var bytes = new byte[(17 << 20) + 100];
        var digits = (16 << 20) - 7;
        var banner = (16 << 20) + 4096 - 5;
        "0\01\02\03\04\05\06\07\08\09\0"u8.CopyTo(bytes.AsSpan(digits));
        "Linux version "u8.CopyTo(bytes.AsSpan(banner));
        var digitHits = new List<ulong>();
        var bannerHits = new List<ulong>();

        KernelSymbols.Scan(new ArrayGuestMemory(bytes), digitHits, bannerHits, CancellationToken.None);

        Assert.That(digitHits, Is.EqualTo(new[] { (ulong)digits }));
        Assert.That(bannerHits, Is.EqualTo(new[] { (ulong)banner }));
    }

    [TestCase(0)]
    [TestCase(65536 - 20)]
    [TestCase(65536 - 30)]
    public void Digit_runs_at_the_edges_of_memory_are_not_token_tables(int position)
    {
        var bytes = new byte[65536];
        "0\01\02\03\04\05\06\07\08\09\0"u8.CopyTo(bytes.AsSpan(position));

        var error = Assert.Throws<ProfileException>(() => KernelSymbols.Locate(new ArrayGuestMemory(bytes)));
        Assert.That(error!.Message, Does.Contain("1 candidate token tables"));
    }

    [Test]
    public void Random_damage_to_the_tables_fails_only_with_ProfileException_or_decodes_consistently()
    {
        var random = new Random(20261122);
        var original = SyntheticKernel.MemoryBytes(s_kernel.Memory);
        var start = (int)s_kernel.KallsymsPhysical;
        var length = s_kernel.Kallsyms.Bytes.Length;
        var failures = 0;
        for (var round = 0; round < 40; round++)
        {
            var bytes = (byte[])original.Clone();
            for (var i = 0; i < 8; i++)
            {
                bytes[start + random.Next(length)] = (byte)random.Next(256);
            }

            try
            {
                var symbols = KernelSymbols.Locate(new ArrayGuestMemory(bytes));
                Assert.That(symbols.Count, Is.EqualTo(s_symbols.Count), "a damaged table that still decodes has every symbol");
            }
            catch (ProfileException)
            {
                failures++;
            }
        }

        Assert.That(failures, Is.GreaterThan(0), "some damage must be detected");
    }
}
