using System.Buffers.Binary;
using System.Reflection.PortableExecutable;
using System.Text;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// Reads a PE image's export names and its CodeView identity through the framework's
/// <see cref="PEReader"/> (file or mapped layout): the reader maps every RVA, this class only
/// walks the export directory's three arrays, bounding every count and string by the section.
/// </summary>
internal static class PeExports
{
    public const int MaxNames = 1 << 16;
    private const int DirectorySize = 40;
    private const int MaxNameBytes = 512;

    /// <summary>Every exported name and its function RVA (forwarders included as they are), in export order.</summary>
    /// <exception cref="PeFormatException">The export directory points outside the image.</exception>
    public static List<(string Name, uint Rva)> Read(PEReader reader)
    {
        var directory = reader.PEHeaders.PEHeader?.ExportTableDirectory ?? default;
        var result = new List<(string, uint)>();
        if (directory.RelativeVirtualAddress == 0 || directory.Size < DirectorySize)
        {
            return result;
        }

        var header = Bytes(reader, directory.RelativeVirtualAddress, DirectorySize, "export directory");
        var functionCount = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
        var nameCount = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
        var functions = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        var names = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
        var ordinals = BinaryPrimitives.ReadInt32LittleEndian(header[36..]);
        if (nameCount > MaxNames || functionCount > MaxNames)
        {
            throw new PeFormatException($"The export directory claims {nameCount} names and {functionCount} functions (more than {MaxNames}).");
        }

        if (nameCount == 0)
        {
            return result;
        }

        var nameRvas = Bytes(reader, names, checked((int)nameCount * 4), "export name table");
        var ordinalTable = Bytes(reader, ordinals, checked((int)nameCount * 2), "export ordinal table");
        var functionTable = Bytes(reader, functions, checked((int)functionCount * 4), "export address table");
        for (var i = 0; i < (int)nameCount; i++)
        {
            var ordinal = BinaryPrimitives.ReadUInt16LittleEndian(ordinalTable[(i * 2)..]);
            if (ordinal >= functionCount)
            {
                continue;
            }

            var nameRva = BinaryPrimitives.ReadInt32LittleEndian(nameRvas[(i * 4)..]);
            var name = ReadName(reader, nameRva);
            if (name is null)
            {
                continue;
            }

            result.Add((name, BinaryPrimitives.ReadUInt32LittleEndian(functionTable[(ordinal * 4)..])));
        }

        return result;
    }

    /// <summary>Up to <paramref name="length"/> bytes at an RVA, fewer where the section ends.</summary>
    public static ReadOnlySpan<byte> Code(PEReader reader, int rva, int length)
    {
        var block = reader.GetSectionData(rva);
        return block.Length <= 0 ? default : block.GetContent(0, Math.Min(length, block.Length)).AsSpan();
    }

    /// <summary>The PDB the image names in its CodeView debug record, or <see langword="null"/>.</summary>
    public static PdbIdentity? ReadPdbIdentity(PEReader reader)
    {
        foreach (var entry in reader.ReadDebugDirectory())
        {
            if (entry.Type != DebugDirectoryEntryType.CodeView)
            {
                continue;
            }

            var data = reader.ReadCodeViewDebugDirectoryData(entry);
            var file = data.Path.Replace('\\', '/');
            return new PdbIdentity(Path.GetFileName(file), data.Guid, data.Age);
        }

        return null;
    }

    private static ReadOnlySpan<byte> Bytes(PEReader reader, int rva, int length, string what)
    {
        var block = reader.GetSectionData(rva);
        if (rva <= 0 || block.Length < length)
        {
            throw new PeFormatException($"The {what} (RVA 0x{rva:x}, {length} bytes) lies outside the image's sections.");
        }

        return block.GetContent(0, length).AsSpan();
    }

    private static string? ReadName(PEReader reader, int rva)
    {
        var block = reader.GetSectionData(rva);
        if (rva <= 0 || block.Length <= 0)
        {
            return null;
        }

        var bytes = block.GetContent(0, Math.Min(block.Length, MaxNameBytes)).AsSpan();
        var end = bytes.IndexOf((byte)0);
        return end <= 0 ? null : Encoding.ASCII.GetString(bytes[..end]);
    }
}
