using System.Buffers.Binary;

namespace Nitro.Backends.Linux.Symbols;

/// <summary>
/// Decodes the kernel's compressed symbol tables (<c>scripts/kallsyms.c</c> output) found in a
/// window of guest physical memory. Every position is checked against the window and every
/// table is validated against its neighbours, because the bytes come from an untrusted guest.
/// </summary>
/// <remarks>
/// Supported layouts (x86-64, <c>KALLSYMS_BASE_RELATIVE</c>, with or without
/// <c>KALLSYMS_ABSOLUTE_PERCPU</c>), each label 8-byte aligned:
/// up to 6.3: offsets, relative_base, num_syms, names, markers, [seqs_of_names], token_table, token_index;
/// 6.4 and later: num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs_of_names.
/// Markers may be 32- or 64-bit; name lengths of 0x80 or more use the two-byte encoding.
/// </remarks>
internal static class KallsymsParser
{
    internal const int MinSymbols = 10_000;
    internal const int MaxSymbols = 1_000_000;
    internal const int MaxTokenLength = 128;
    internal const int MaxNameLength = 1024;

    private const int MinMarkerStep = 256 * 2;
    private const int MaxMarkerStep = 256 * 600;

    /// <summary>Gets the tokens of the digits: each byte value that occurs in symbol names stands for itself.</summary>
    internal static ReadOnlySpan<byte> DigitTokens => "0\01\02\03\04\05\06\07\08\09\0"u8;

    /// <summary>Finds the token table around a digit-token hit and checks the token index after it.</summary>
    /// <param name="window">Memory whose first byte is 8-byte aligned in the guest.</param>
    /// <param name="digitIndex">Where <see cref="DigitTokens"/> was found in the window.</param>
    /// <param name="tokenTable">The window position of the token table.</param>
    /// <param name="tokenIndex">The window position of the token index.</param>
    /// <param name="tokens">The 256 tokens.</param>
    /// <returns>Whether a consistent token table and index were found.</returns>
    internal static bool TryReadTokenTable(ReadOnlySpan<byte> window, int digitIndex, out int tokenTable, out int tokenIndex, out byte[][] tokens)
    {
        tokenTable = 0;
        tokenIndex = 0;
        tokens = [];
        var position = digitIndex + DigitTokens.Length;
        for (var token = '9' + 1; token <= 0xFF; token++)
        {
            if (!TryTerminated(window, position, out var length))
            {
                return false;
            }

            position += length + 1;
        }

        var tableEnd = position;
        var index = Align8(tableEnd);
        if (index + 512 > window.Length)
        {
            return false;
        }

        var first = BinaryPrimitives.ReadUInt16LittleEndian(window[index..]);
        var zero = BinaryPrimitives.ReadUInt16LittleEndian(window[(index + (2 * '0'))..]);
        if (first != 0 || zero > digitIndex || (digitIndex - zero) % 8 != 0)
        {
            return false;
        }

        var start = digitIndex - zero;
        var result = new byte[256][];
        for (var i = 0; i < 256; i++)
        {
            var from = start + BinaryPrimitives.ReadUInt16LittleEndian(window[(index + (2 * i))..]);
            var to = i < 255 ? start + BinaryPrimitives.ReadUInt16LittleEndian(window[(index + (2 * i) + 2)..]) : tableEnd;
            if (to - from < 2 || to - from > MaxTokenLength + 1 || to > tableEnd || window[to - 1] != 0)
            {
                return false;
            }

            var text = window[from..(to - 1)];
            if (text.IndexOf((byte)0) >= 0)
            {
                return false;
            }

            result[i] = text.ToArray();
        }

        tokenTable = start;
        tokenIndex = index;
        tokens = result;
        return true;
    }

    /// <summary>Decodes every symbol given a validated token table.</summary>
    /// <param name="window">Memory whose first byte is 8-byte aligned in the guest.</param>
    /// <param name="tokenTable">The window position of the token table.</param>
    /// <param name="tokenIndex">The window position of the token index.</param>
    /// <param name="tokens">The 256 tokens.</param>
    /// <param name="tables">The decoded symbols.</param>
    /// <param name="failure">Why decoding failed.</param>
    /// <returns>Whether the tables were decoded and every cross-check passed.</returns>
    internal static bool TryDecode(ReadOnlySpan<byte> window, int tokenTable, int tokenIndex, byte[][] tokens, out KallsymsTables? tables, out string failure)
    {
        tables = null;
        if (!TryFindMarkers(window, tokenTable, out var markers, out var markerCount, out var markerWidth, out var markersEnd))
        {
            failure = "no kallsyms_markers array ends before the token table";
            return false;
        }

        var lastMarker = ReadWidth(window, markers + ((markerCount - 1) * markerWidth), markerWidth);
        if (!TryFindNames(window, markers, markerCount, markerWidth, lastMarker, out var names, out var count))
        {
            failure = $"kallsyms_markers ({markerCount} entries) found, but no kallsyms_num_syms / kallsyms_names before them agrees with it";
            return false;
        }

        var hasSequences = markersEnd != tokenTable;
        if (hasSequences && Align8(markersEnd + (3 * count)) != tokenTable)
        {
            failure = $"the gap between kallsyms_markers and the token table does not hold kallsyms_seqs_of_names for {count} symbols";
            return false;
        }

        var addresses = new ulong[count];
        var layout = hasSequences ? "offsets-first, with seqs_of_names" : "offsets-first";
        if (!TryDecodeAddresses(window, names - 16 - Align8(4 * count), names - 16, count, addresses))
        {
            var offsets = Align8(tokenIndex + 512);
            layout = "offsets-after-token-index";
            if (!TryDecodeAddresses(window, offsets, offsets + Align8(4 * count), count, addresses))
            {
                failure = $"no kallsyms_offsets / kallsyms_relative_base for {count} symbols decode to sorted kernel addresses";
                return false;
            }
        }

        var symbolNames = new string[count];
        var types = new char[count];
        if (!TryDecodeNames(window, names, count, tokens, symbolNames, types, out failure))
        {
            return false;
        }

        tables = new KallsymsTables(symbolNames, types, addresses, layout, markerWidth);
        failure = string.Empty;
        return true;
    }

    private static bool TryFindMarkers(ReadOnlySpan<byte> window, int tokenTable, out int markers, out int count, out int width, out int end)
    {
        // Without seqs_of_names the markers end right before the token table; with it (6.2+, and
        // backported to some 6.1 builds) 3 bytes per symbol sit in between.
        var lowest = Math.Max(8, tokenTable - Align8(3 * MaxSymbols) - 8);
        for (end = tokenTable; end >= lowest; end -= 8)
        {
            for (width = 4; width <= 8; width += 4)
            {
                if (TryMarkersEndingAt(window, end, width, out markers, out count)
                    && (end == tokenTable || count * 256 >= (tokenTable - end) / 3 - 256))
                {
                    return true;
                }
            }
        }

        markers = count = width = end = 0;
        return false;
    }

    private static bool TryMarkersEndingAt(ReadOnlySpan<byte> window, int end, int width, out int markers, out int count)
    {
        markers = count = 0;
        var position = end - width;
        if (position < 0)
        {
            return false;
        }

        var value = ReadWidth(window, position, width);
        if (value == 0 && width == 4)
        {
            position -= 4;
            value = position >= 0 ? ReadWidth(window, position, width) : 0;
        }

        var previous = ulong.MaxValue;
        var seen = 0;
        while (value != 0)
        {
            if (previous != ulong.MaxValue && (value >= previous || previous - value < MinMarkerStep || previous - value > MaxMarkerStep))
            {
                return false;
            }

            previous = value;
            seen++;
            position -= width;
            if (position < 0 || seen > (MaxSymbols / 256) + 1)
            {
                return false;
            }

            value = ReadWidth(window, position, width);
        }

        if (seen + 1 < (MinSymbols + 255) / 256 || previous < MinMarkerStep || previous > MaxMarkerStep)
        {
            return false;
        }

        markers = position;
        count = seen + 1;
        return true;
    }

    private static bool TryFindNames(ReadOnlySpan<byte> window, int markers, int markerCount, int markerWidth, ulong lastMarker, out int names, out int count)
    {
        names = count = 0;
        var latest = AlignDown8((long)markers - (long)lastMarker - 2);
        var earliest = latest - MaxMarkerStep;
        for (var candidate = latest; candidate >= Math.Max(8, earliest); candidate -= 8)
        {
            var symbols = BinaryPrimitives.ReadUInt32LittleEndian(window[(int)(candidate - 8)..]);
            var high = BinaryPrimitives.ReadUInt32LittleEndian(window[(int)(candidate - 4)..]);
            if (high != 0 || symbols <= (uint)(256 * (markerCount - 1)) || symbols > (uint)(256 * markerCount))
            {
                continue;
            }

            if (NamesMatchMarkers(window, (int)candidate, (int)symbols, markers, markerWidth))
            {
                names = (int)candidate;
                count = (int)symbols;
                return true;
            }
        }

        return false;
    }

    private static bool NamesMatchMarkers(ReadOnlySpan<byte> window, int names, int count, int markers, int markerWidth)
    {
        var position = names;
        for (var i = 0; i < count; i++)
        {
            if ((i & 0xFF) == 0 && (ulong)(position - names) != ReadWidth(window, markers + ((i >> 8) * markerWidth), markerWidth))
            {
                return false;
            }

            if (!TryReadLength(window, ref position, markers, out var length) || length == 0)
            {
                return false;
            }

            position += length;
            if (position > markers)
            {
                return false;
            }
        }

        return markers - position < 8;
    }

    private static bool TryDecodeAddresses(ReadOnlySpan<byte> window, int offsets, int relativeBase, int count, ulong[] addresses)
    {
        if (offsets < 0 || relativeBase < 0 || relativeBase + 8 > window.Length || offsets + (4L * count) > window.Length)
        {
            return false;
        }

        var baseAddress = BinaryPrimitives.ReadUInt64LittleEndian(window[relativeBase..]);
        if (baseAddress < 0xFFFF_8000_0000_0000UL)
        {
            return false;
        }

        var table = window.Slice(offsets, 4 * count);
        var anyNegative = false;
        for (var i = 0; i < count; i++)
        {
            if (BinaryPrimitives.ReadInt32LittleEndian(table[(4 * i)..]) < 0)
            {
                anyNegative = true;
                break;
            }
        }

        var previous = 0UL;
        var relative = 0;
        for (var i = 0; i < count; i++)
        {
            var offset = BinaryPrimitives.ReadInt32LittleEndian(table[(4 * i)..]);
            ulong address;
            if (!anyNegative)
            {
                address = baseAddress + (ulong)offset;
            }
            else if (offset >= 0)
            {
                address = (ulong)offset;
            }
            else
            {
                address = baseAddress - 1 - (ulong)(long)offset;
                relative++;
            }

            if (address < previous)
            {
                return false;
            }

            previous = address;
            addresses[i] = address;
        }

        // Almost every symbol is relative to the kernel image; a table of small absolute values is not kallsyms_offsets.
        return !anyNegative || relative > count / 2;
    }

    private static bool TryDecodeNames(ReadOnlySpan<byte> window, int names, int count, byte[][] tokens, string[] symbolNames, char[] types, out string failure)
    {
        Span<char> buffer = stackalloc char[MaxNameLength + MaxTokenLength];
        var position = names;
        for (var i = 0; i < count; i++)
        {
            if (!TryReadLength(window, ref position, window.Length, out var length) || position + length > window.Length)
            {
                failure = $"kallsyms_names entry {i} runs past the tables";
                return false;
            }

            var written = 0;
            foreach (var code in window.Slice(position, length))
            {
                var token = tokens[code];
                if (written + token.Length > MaxNameLength)
                {
                    failure = $"kallsyms_names entry {i} expands to more than {MaxNameLength} characters";
                    return false;
                }

                foreach (var b in token)
                {
                    if (b is < 0x21 or > 0x7E)
                    {
                        failure = $"kallsyms_names entry {i} contains the non-printable byte 0x{b:x2}";
                        return false;
                    }

                    buffer[written++] = (char)b;
                }
            }

            if (written < 2)
            {
                failure = $"kallsyms_names entry {i} has no name after its type";
                return false;
            }

            types[i] = buffer[0];
            symbolNames[i] = new string(buffer[1..written]);
            position += length;
        }

        failure = string.Empty;
        return true;
    }

    private static bool TryReadLength(ReadOnlySpan<byte> window, ref int position, int limit, out int length)
    {
        length = 0;
        if (position >= limit || position >= window.Length)
        {
            return false;
        }

        length = window[position++];
        if ((length & 0x80) != 0)
        {
            if (position >= limit || position >= window.Length)
            {
                return false;
            }

            length = (length & 0x7F) | (window[position++] << 7);
        }

        return true;
    }

    private static bool TryTerminated(ReadOnlySpan<byte> window, int position, out int length)
    {
        length = 0;
        if (position >= window.Length)
        {
            return false;
        }

        var span = window[position..];
        length = span[..Math.Min(span.Length, MaxTokenLength + 1)].IndexOf((byte)0);
        return length > 0;
    }

    private static ulong ReadWidth(ReadOnlySpan<byte> window, int position, int width) =>
        position < 0 || position + width > window.Length ? ulong.MaxValue
        : width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(window[position..])
        : BinaryPrimitives.ReadUInt64LittleEndian(window[position..]);

    private static int Align8(int value) => (value + 7) & ~7;

    private static long AlignDown8(long value) => value & ~7L;
}

/// <summary>Decoded kallsyms: parallel arrays sorted by address as the kernel stores them.</summary>
/// <param name="Names">The symbol names.</param>
/// <param name="Types">The <c>nm</c>-style type characters.</param>
/// <param name="Addresses">The addresses (per-cpu symbols hold their offset into the per-cpu area).</param>
/// <param name="Layout">Which table layout was found.</param>
/// <param name="MarkerWidth">The width of a marker in bytes.</param>
internal sealed record KallsymsTables(string[] Names, char[] Types, ulong[] Addresses, string Layout, int MarkerWidth);
