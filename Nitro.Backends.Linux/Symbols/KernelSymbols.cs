using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using static System.FormattableString;
using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Symbols;

/// <summary>
/// The kernel's own symbol table, decoded from kallsyms found in guest physical memory — no
/// <c>System.map</c>, debug package or prepared profile. Works with KASLR: the addresses are the
/// relocated ones of the running kernel, and <see cref="ImageDelta"/> maps the kernel image's
/// virtual addresses to the physical memory that holds it, so image text and data can be read
/// without page tables.
/// </summary>
public sealed class KernelSymbols
{
    private const int ScanChunk = 16 << 20;
    private const int WindowBefore = 24 << 20;
    private const int WindowAfter = 12 << 20;
    private const int MaxHits = 256;

    private readonly KernelSymbol[] _symbols;
    private readonly Dictionary<string, int> _byName;
    private readonly int _firstKernelSymbol;
    private readonly IGuestMemory _memory;

    private KernelSymbols(IGuestMemory memory, KallsymsTables tables, ulong tokenTablePhysicalAddress)
    {
        _memory = memory;
        var count = tables.Names.Length;
        _symbols = new KernelSymbol[count];
        _byName = new Dictionary<string, int>(count, StringComparer.Ordinal);
        _firstKernelSymbol = count;
        for (var i = 0; i < count; i++)
        {
            var symbol = new KernelSymbol(tables.Names[i], tables.Types[i], tables.Addresses[i]);
            _symbols[i] = symbol;
            if (!_byName.TryGetValue(symbol.Name, out var existing)
                || (char.IsLower(_symbols[existing].Type) && char.IsUpper(symbol.Type)))
            {
                _byName[symbol.Name] = i;
            }

            if (_firstKernelSymbol == count && symbol.Address >= KernelHalf)
            {
                _firstKernelSymbol = i;
            }
        }

        Layout = tables.Layout;
        TokenTablePhysicalAddress = tokenTablePhysicalAddress;
        ImageStart = TryGetAddress("_text", out var text) ? text : (_firstKernelSymbol < count ? _symbols[_firstKernelSymbol].Address : 0);
        ImageEnd = TryGetAddress("_end", out var end) ? end : (count > 0 ? _symbols[^1].Address + 1 : 0);
    }

    /// <summary>Gets the number of symbols.</summary>
    public int Count => _symbols.Length;

    /// <summary>Gets every symbol, sorted by address as the kernel stores them (per-cpu symbols first).</summary>
    public IReadOnlyList<KernelSymbol> Symbols => _symbols;

    /// <summary>
    /// Gets the kernel image's virtual-minus-physical delta (wrapping arithmetic): an image address
    /// <c>v</c> (text, rodata, data, bss) is held at guest physical address <c>v − ImageDelta</c>.
    /// </summary>
    public ulong ImageDelta { get; private set; }

    /// <summary>Gets the virtual address of the start of the kernel image (<c>_text</c>, relocated by KASLR).</summary>
    public ulong ImageStart { get; }

    /// <summary>Gets the virtual address just past the kernel image (<c>_end</c>).</summary>
    public ulong ImageEnd { get; }

    /// <summary>Gets the guest physical address at which <c>kallsyms_token_table</c> was found.</summary>
    public ulong TokenTablePhysicalAddress { get; }

    /// <summary>Gets a description of the kallsyms table layout that was decoded (for diagnostics).</summary>
    public string Layout { get; }

    private static ulong KernelHalf => 0xFFFF_8000_0000_0000UL;

    private static ReadOnlySpan<byte> BannerPrefix => "Linux version "u8;

    /// <summary>Finds kallsyms in guest physical memory, decodes every symbol and works out the image delta.</summary>
    /// <param name="memory">The guest's physical memory (pause the guest first so it does not change underneath).</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>The kernel's symbols.</returns>
    /// <exception cref="ProfileException">No consistent kallsyms tables, or no kernel banner matching them, were found.</exception>
    /// <exception cref="OperationCanceledException">The scan was cancelled.</exception>
    public static KernelSymbols Locate(IGuestMemory memory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var digitHits = new List<ulong>();
        var bannerHits = new List<ulong>();
        Scan(memory, digitHits, bannerHits, cancellationToken);
        if (digitHits.Count == 0)
        {
            throw new ProfileException(
                $"No kallsyms token table was found in 0x{memory.Size:x} bytes of guest physical memory. " +
                "Is this a Linux guest built with CONFIG_KALLSYMS=y, and has its kernel finished decompressing? Boot it further and try again.");
        }

        var failures = new StringBuilder();
        foreach (var hit in digitHits)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = TryDecodeAt(memory, hit, failures);
            if (result is null)
            {
                continue;
            }

            if (result.TryResolveImageDelta(bannerHits, out var reason))
            {
                return result;
            }

            failures.Append(Invariant($"token table at 0x{result.TokenTablePhysicalAddress:x}: {reason}; "));
        }

        throw new ProfileException(
            $"kallsyms could not be decoded from guest physical memory ({digitHits.Count} candidate token tables): {failures}" +
            "The guest may not be a supported x86-64 Linux kernel, or memory is damaged; pause the guest before locating symbols.");
    }

    /// <summary>Gets the address of a symbol.</summary>
    /// <param name="name">The symbol name.</param>
    /// <param name="address">The address (per-cpu symbols: the offset into the per-cpu area).</param>
    /// <returns>Whether the symbol exists.</returns>
    public bool TryGetAddress(string name, out ulong address)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var index))
        {
            address = _symbols[index].Address;
            return true;
        }

        address = 0;
        return false;
    }

    /// <summary>Gets a symbol by name.</summary>
    /// <param name="name">The symbol name.</param>
    /// <param name="symbol">The symbol.</param>
    /// <returns>Whether the symbol exists.</returns>
    public bool TryGetSymbol(string name, out KernelSymbol symbol)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var index))
        {
            symbol = _symbols[index];
            return true;
        }

        symbol = default;
        return false;
    }

    /// <summary>Gets the address of a symbol that must exist.</summary>
    /// <param name="name">The symbol name.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ProfileException">The kernel has no such symbol.</exception>
    public ulong GetAddress(string name) =>
        TryGetAddress(name, out var address) ? address
        : throw new ProfileException($"The guest kernel has no symbol '{name}' in kallsyms ({Count} symbols). This kernel build or version may not be supported.");

    /// <summary>Finds the symbol containing a kernel virtual address: the nearest symbol at or below it.</summary>
    /// <param name="address">A kernel image virtual address.</param>
    /// <returns>The symbol and offset, or <see langword="null"/> outside the kernel image.</returns>
    public SymbolLocation? Lookup(ulong address)
    {
        var index = LookupIndex(address);
        return index < 0 ? null : new SymbolLocation(_symbols[index], address - _symbols[index].Address);
    }

    /// <summary>Gets every symbol that starts exactly at an address (aliases such as <c>__x64_sys_ni_syscall</c> / <c>sys_ni_syscall</c>).</summary>
    /// <param name="address">A kernel image virtual address.</param>
    /// <returns>The symbols, in kallsyms order; empty when none starts there.</returns>
    public IReadOnlyList<KernelSymbol> GetSymbolsAt(ulong address)
    {
        var result = new List<KernelSymbol>();
        var index = LookupIndex(address);
        for (var i = index; i >= 0 && i < _symbols.Length && _symbols[i].Address == address; i++)
        {
            result.Add(_symbols[i]);
        }

        return result;
    }

    /// <summary>Gets the address of the first symbol above <paramref name="address"/>: where a function that starts there ends at the latest.</summary>
    /// <param name="address">A kernel image virtual address.</param>
    /// <returns>The next symbol's address, or <see cref="ImageEnd"/> when none follows.</returns>
    internal ulong NextSymbolAddress(ulong address)
    {
        var index = LookupIndex(address);
        if (index < 0)
        {
            return ImageEnd;
        }

        while (index < _symbols.Length && _symbols[index].Address <= address)
        {
            index++;
        }

        return index < _symbols.Length ? _symbols[index].Address : ImageEnd;
    }

    /// <summary>Gets the guest physical address of a kernel image virtual address (no page tables involved).</summary>
    /// <param name="virtualAddress">An address inside the kernel image.</param>
    /// <returns>The physical address.</returns>
    public ulong PhysicalAddressOfImage(ulong virtualAddress) => virtualAddress - ImageDelta;

    /// <summary>Reads kernel image memory (text, rodata, data, bss) by virtual address through <see cref="ImageDelta"/>.</summary>
    /// <param name="virtualAddress">The first virtual address; the range must lie inside <c>[_text, _end)</c>.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <exception cref="ProfileException">The range is not inside the kernel image.</exception>
    /// <exception cref="GuestMemoryException">The physical range is outside guest memory.</exception>
    public void ReadImage(ulong virtualAddress, Span<byte> destination)
    {
        if (!IsInImage(virtualAddress, destination.Length))
        {
            ThrowOutsideImage(virtualAddress, destination.Length);
        }

        _memory.Read(virtualAddress - ImageDelta, destination);
    }

    /// <summary>Reads kernel image memory if the range lies inside the image and guest memory.</summary>
    /// <param name="virtualAddress">The first virtual address.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <returns>Whether the bytes were read.</returns>
    public bool TryReadImage(ulong virtualAddress, Span<byte> destination)
    {
        var physical = virtualAddress - ImageDelta;
        if (!IsInImage(virtualAddress, destination.Length) || GuestMemoryRange.Readable(_memory, physical, (ulong)destination.Length) < (ulong)destination.Length)
        {
            return false;
        }

        _memory.Read(physical, destination);
        return true;
    }

    /// <summary>Reads a little-endian 64-bit value from the kernel image.</summary>
    /// <param name="virtualAddress">The virtual address.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ProfileException">The address is not inside the kernel image.</exception>
    public ulong ReadImageUInt64(ulong virtualAddress)
    {
        Span<byte> buffer = stackalloc byte[8];
        ReadImage(virtualAddress, buffer);
        return BinaryPrimitives.ReadUInt64LittleEndian(buffer);
    }

    /// <summary>Reads a NUL-terminated string from the kernel image.</summary>
    /// <param name="virtualAddress">The virtual address of the first byte.</param>
    /// <param name="maxBytes">The most bytes to read.</param>
    /// <returns>The string (UTF-8), cut at the first NUL or at <paramref name="maxBytes"/>.</returns>
    /// <exception cref="ProfileException">The range is not inside the kernel image.</exception>
    public string ReadImageString(ulong virtualAddress, int maxBytes = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        var length = (int)Math.Min((ulong)maxBytes, ImageEnd > virtualAddress ? ImageEnd - virtualAddress : 0);
        var buffer = new byte[length];
        ReadImage(virtualAddress, buffer);
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end >= 0 ? end : buffer.Length);
    }

    internal static void Scan(IGuestMemory memory, List<ulong> digitHits, List<ulong> bannerHits, CancellationToken cancellationToken)
    {
        var overlap = Math.Max(KallsymsParser.DigitTokens.Length, BannerPrefix.Length) - 1;
        var buffer = ArrayPool<byte>.Shared.Rent(ScanChunk + overlap);
        try
        {
            foreach (var range in memory.RamRanges)
            {
                for (var start = range.Start; start < range.End; start += ScanChunk)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var length = (int)Math.Min((ulong)(ScanChunk + overlap), range.End - start);
                    var chunk = buffer.AsSpan(0, length);
                    memory.Read(start, chunk);
                    Collect(chunk, KallsymsParser.DigitTokens, start, digitHits);
                    Collect(chunk, BannerPrefix, start, bannerHits);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Collect(ReadOnlySpan<byte> chunk, ReadOnlySpan<byte> pattern, ulong chunkStart, List<ulong> hits)
    {
        var offset = 0;
        while (hits.Count < MaxHits)
        {
            var found = chunk[offset..].IndexOf(pattern);
            if (found < 0)
            {
                return;
            }

            var address = chunkStart + (ulong)(offset + found);
            if (hits.Count == 0 || hits[^1] < address)
            {
                hits.Add(address);
            }

            offset += found + 1;
        }
    }

    private static KernelSymbols? TryDecodeAt(IGuestMemory memory, ulong hit, StringBuilder failures)
    {
        // A cheap look at a few KiB first: most digit runs are not a token table.
        if (!GuestMemoryRange.TryFind(memory, hit, out var range))
        {
            return null;
        }

        var smallStart = Math.Max(hit >= 8192 ? (hit - 8192) & ~4095UL : 0, range.Start);
        var smallLength = (int)Math.Min(16384 + 4096, range.End - smallStart);
        var small = new byte[smallLength];
        memory.Read(smallStart, small);
        if (!KallsymsParser.TryReadTokenTable(small, (int)(hit - smallStart), out var smallTable, out _, out _))
        {
            return null;
        }

        var tokenTablePhysical = smallStart + (ulong)smallTable;
        var windowStart = Math.Max(tokenTablePhysical >= WindowBefore ? (tokenTablePhysical - WindowBefore) & ~4095UL : 0, range.Start);
        var windowLength = (int)Math.Min((ulong)(WindowBefore + WindowAfter), range.End - windowStart);
        var window = ArrayPool<byte>.Shared.Rent(windowLength);
        try
        {
            var span = window.AsSpan(0, windowLength);
            memory.Read(windowStart, span);
            var digit = (int)(hit - windowStart);
            if (!KallsymsParser.TryReadTokenTable(span, digit, out var tokenTable, out var tokenIndex, out var tokens))
            {
                failures.Append(Invariant($"token table at 0x{tokenTablePhysical:x}: unreadable in the large window; "));
                return null;
            }

            if (!KallsymsParser.TryDecode(span, tokenTable, tokenIndex, tokens, out var tables, out var failure))
            {
                failures.Append(Invariant($"token table at 0x{tokenTablePhysical:x}: {failure}; "));
                return null;
            }

            return new KernelSymbols(memory, tables!, tokenTablePhysical);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }

    private bool TryResolveImageDelta(List<ulong> bannerHits, out string reason)
    {
        if (!TryGetAddress("linux_banner", out var banner))
        {
            reason = "kallsyms has no linux_banner symbol";
            return false;
        }

        foreach (var physical in bannerHits)
        {
            var delta = banner - physical;
            if ((delta & 0xFFF) != 0)
            {
                continue;
            }

            ImageDelta = delta;
            if (VerifyDelta())
            {
                reason = string.Empty;
                return true;
            }
        }

        ImageDelta = 0;
        reason = Invariant($"none of the {bannerHits.Count} 'Linux version' strings in memory is linux_banner (0x{banner:x}) with a consistent image delta");
        return false;
    }

    private bool VerifyDelta()
    {
        // The token table itself lies inside the image's read-only data.
        var tokenTable = TokenTablePhysicalAddress + ImageDelta;
        if (tokenTable < ImageStart || tokenTable >= ImageEnd)
        {
            return false;
        }

        if (TryGetAddress("entry_SYSCALL_64", out var entry))
        {
            Span<byte> code = stackalloc byte[7];
            if (!TryReadImage(entry, code))
            {
                return false;
            }

            // swapgs, optionally after an endbr64 (IBT kernels).
            ReadOnlySpan<byte> swapgs = [0x0F, 0x01, 0xF8];
            ReadOnlySpan<byte> endbr64 = [0xF3, 0x0F, 0x1E, 0xFA];
            return code.StartsWith(swapgs) || (code.StartsWith(endbr64) && code[4..].SequenceEqual(swapgs));
        }

        return true;
    }

    private int LookupIndex(ulong address)
    {
        if (address < KernelHalf || _firstKernelSymbol >= _symbols.Length || address < _symbols[_firstKernelSymbol].Address || address >= ImageEnd)
        {
            return -1;
        }

        int low = _firstKernelSymbol, high = _symbols.Length - 1;
        while (low < high)
        {
            var middle = low + ((high - low + 1) / 2);
            if (_symbols[middle].Address <= address)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        // Several symbols may share an address; report the first.
        while (low > _firstKernelSymbol && _symbols[low - 1].Address == _symbols[low].Address)
        {
            low--;
        }

        return low;
    }

    private bool IsInImage(ulong virtualAddress, int length) =>
        virtualAddress >= ImageStart && virtualAddress <= ImageEnd && (ulong)length <= ImageEnd - virtualAddress;

    [DoesNotReturn]
    private void ThrowOutsideImage(ulong virtualAddress, int length) =>
        throw new ProfileException(
            $"Virtual range 0x{virtualAddress:x} + {length} bytes is outside the kernel image [0x{ImageStart:x}, 0x{ImageEnd:x}); " +
            "only image text and data can be read through the image delta — read other kernel memory through the page tables.");
}
