using System.Buffers.Binary;
using System.Text;

namespace Nitro.Backends.Linux.Tests.Symbols;

public enum KallsymsLayout
{
    /// <summary>Up to 6.3: offsets, relative_base, num_syms, names, markers, [seqs], token_table, token_index.</summary>
    OffsetsFirst,

    /// <summary>6.4+: num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs.</summary>
    OffsetsAfterTokenIndex,
}

internal sealed record KallsymsOptions(
    KallsymsLayout Layout = KallsymsLayout.OffsetsFirst,
    bool SequencesOfNames = false,
    int MarkerWidth = 4);

/// <summary>The tables as laid out in memory, with the positions a test needs to damage them.</summary>
internal sealed record EncodedKallsyms(byte[] Bytes, int TokenTable, int Names, int Markers, int Offsets);

/// <summary>
/// A test-side kallsyms generator: compresses names with a token table (byte values used by the
/// names stand for themselves, the others for frequent pairs) and lays the tables out like the
/// kernel's build does, every table 8-byte aligned.
/// </summary>
internal static class KallsymsEncoder
{
    public static EncodedKallsyms Encode(IReadOnlyList<(string Name, char Type, ulong Address)> symbols, ulong relativeBase, KallsymsOptions? options = null)
    {
        options ??= new KallsymsOptions();
        var sorted = symbols.OrderBy(s => s.Address).ToArray();
        var texts = sorted.Select(s => Encoding.ASCII.GetBytes(s.Type + s.Name)).ToArray();
        var tokens = BuildTokens(texts);
        var pairs = new Dictionary<(byte, byte), byte>();
        for (var i = 0; i < 256; i++)
        {
            if (tokens[i].Length == 2)
            {
                pairs[(tokens[i][0], tokens[i][1])] = (byte)i;
            }
        }

        var (names, markers) = CompressNames(texts, pairs);

        var output = new List<byte>();
        var offsetsPosition = -1;
        if (options.Layout == KallsymsLayout.OffsetsFirst)
        {
            offsetsPosition = WriteOffsets(output, sorted, relativeBase);
        }

        WriteLabel(output);
        WriteUInt32(output, (uint)sorted.Length);
        WriteLabel(output);
        var namesPosition = output.Count;
        output.AddRange(names);
        WriteLabel(output);
        var markersPosition = output.Count;
        foreach (var marker in markers)
        {
            if (options.MarkerWidth == 8)
            {
                WriteUInt64(output, marker);
            }
            else
            {
                WriteUInt32(output, (uint)marker);
            }
        }

        if (options.SequencesOfNames && options.Layout == KallsymsLayout.OffsetsFirst)
        {
            WriteSequences(output, sorted);
        }

        var tokenTable = WriteTokens(output, tokens);

        if (options.Layout == KallsymsLayout.OffsetsAfterTokenIndex)
        {
            offsetsPosition = WriteOffsets(output, sorted, relativeBase);
            if (options.SequencesOfNames)
            {
                WriteSequences(output, sorted);
            }
        }

        WriteLabel(output);
        return new EncodedKallsyms(output.ToArray(), tokenTable, namesPosition, markersPosition, offsetsPosition);
    }

    private static (List<byte> Names, List<ulong> Markers) CompressNames(byte[][] texts, Dictionary<(byte, byte), byte> pairs)
    {
        var names = new List<byte>();
        var markers = new List<ulong>();
        for (var i = 0; i < texts.Length; i++)
        {
            if (i % 256 == 0)
            {
                markers.Add((ulong)names.Count);
            }

            var compressed = Compress(texts[i], pairs);
            if (compressed.Count >= 0x80)
            {
                names.Add((byte)(0x80 | (compressed.Count & 0x7F)));
                names.Add((byte)(compressed.Count >> 7));
            }
            else
            {
                names.Add((byte)compressed.Count);
            }

            names.AddRange(compressed);
        }

        return (names, markers);
    }

    private static int WriteTokens(List<byte> output, byte[][] tokens)
    {
        WriteLabel(output);
        var tokenTable = output.Count;
        var index = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            index[i] = (ushort)(output.Count - tokenTable);
            output.AddRange(tokens[i]);
            output.Add(0);
        }

        WriteLabel(output);
        foreach (var entry in index)
        {
            output.Add((byte)entry);
            output.Add((byte)(entry >> 8));
        }

        return tokenTable;
    }

    private static int WriteOffsets(List<byte> output, (string Name, char Type, ulong Address)[] sorted, ulong relativeBase)
    {
        WriteLabel(output);
        var position = output.Count;
        foreach (var symbol in sorted)
        {
            var offset = symbol.Address < relativeBase ? (int)symbol.Address : (int)(relativeBase - 1 - symbol.Address);
            WriteUInt32(output, (uint)offset);
        }

        WriteLabel(output);
        WriteUInt64(output, relativeBase);
        return position;
    }

    private static void WriteSequences(List<byte> output, (string Name, char Type, ulong Address)[] sorted)
    {
        WriteLabel(output);
        var order = Enumerable.Range(0, sorted.Length).OrderBy(i => sorted[i].Name, StringComparer.Ordinal);
        foreach (var i in order)
        {
            output.Add((byte)(i >> 16));
            output.Add((byte)(i >> 8));
            output.Add((byte)i);
        }
    }

    private static byte[][] BuildTokens(byte[][] texts)
    {
        var used = new bool[256];
        var pairCounts = new Dictionary<(byte, byte), int>();
        foreach (var text in texts)
        {
            foreach (var b in text)
            {
                used[b] = true;
            }

            for (var i = 0; i + 1 < text.Length; i++)
            {
                var key = (text[i], text[i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + 1;
            }
        }

        var frequent = pairCounts.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Select(p => p.Key).GetEnumerator();
        var tokens = new byte[256][];
        var filler = 0;
        for (var i = 0; i < 256; i++)
        {
            if (used[i])
            {
                tokens[i] = [(byte)i];
            }
            else if (frequent.MoveNext())
            {
                tokens[i] = [frequent.Current.Item1, frequent.Current.Item2];
            }
            else
            {
                // Never used by the encoder, but the kernel's table has no empty slot either.
                tokens[i] = Encoding.ASCII.GetBytes("zz" + filler++.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return tokens;
    }

    private static List<byte> Compress(byte[] text, Dictionary<(byte, byte), byte> pairs)
    {
        var result = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (i + 1 < text.Length && pairs.TryGetValue((text[i], text[i + 1]), out var code))
            {
                result.Add(code);
                i++;
            }
            else
            {
                result.Add(text[i]);
            }
        }

        return result;
    }

    private static void WriteLabel(List<byte> output)
    {
        while (output.Count % 8 != 0)
        {
            output.Add(0);
        }
    }

    private static void WriteUInt32(List<byte> output, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        output.AddRange(buffer.ToArray());
    }

    private static void WriteUInt64(List<byte> output, ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        output.AddRange(buffer.ToArray());
    }
}
