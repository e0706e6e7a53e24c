using System.Buffers.Binary;
using System.Reflection.PortableExecutable;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// Finds the system-call stubs of an x64 <c>ntdll.dll</c> or <c>win32u.dll</c>: every export
/// whose code begins <c>4c 8b d1 b8 imm32</c> (<c>mov r10, rcx; mov eax, imm32</c>). The guest's
/// own ntdll names every call number of its build this way, without any symbol table.
/// </summary>
public static class SyscallStubReader
{
    /// <summary>Reads the stubs of a PE file on disk (file layout).</summary>
    /// <param name="path">The DLL.</param>
    /// <returns>The stubs by number, one per stub address (the <c>Nt</c> name where <c>Zw</c> aliases it).</returns>
    /// <exception cref="PeFormatException">The file is not an x64 PE image, or its export table is damaged.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<SyscallStub> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        return Read(file, isLoadedImage: false);
    }

    /// <summary>Reads the stubs of a PE image in a stream.</summary>
    /// <param name="image">The image, from its first byte.</param>
    /// <param name="isLoadedImage">Whether the stream holds the image as mapped (sections at their RVAs), not as a file.</param>
    /// <returns>The stubs by number.</returns>
    /// <exception cref="PeFormatException">The stream is not an x64 PE image, or its export table is damaged.</exception>
    public static IReadOnlyList<SyscallStub> Read(Stream image, bool isLoadedImage)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var reader = new PEReader(image, (isLoadedImage ? PEStreamOptions.IsLoadedImage : PEStreamOptions.Default) | PEStreamOptions.LeaveOpen);
        try
        {
            return Read(reader);
        }
        catch (BadImageFormatException ex)
        {
            throw new PeFormatException($"The export table is damaged: {ex.Message}", ex);
        }
    }

    internal static IReadOnlyList<SyscallStub> Read(PEReader reader)
    {
        PEHeaders headers;
        try
        {
            headers = reader.PEHeaders;
        }
        catch (BadImageFormatException ex)
        {
            throw new PeFormatException($"Not a PE image: {ex.Message}", ex);
        }

        if (headers.PEHeader is null || headers.PEHeader.Magic != PEMagic.PE32Plus || headers.CoffHeader.Machine != Machine.Amd64)
        {
            throw new PeFormatException($"Not an x64 PE32+ image (machine {headers.CoffHeader.Machine}): system-call stubs are read from 64-bit ntdll.dll or win32u.dll.");
        }

        var exports = headers.PEHeader.ExportTableDirectory;
        var byRva = new Dictionary<uint, SyscallStub>();
        foreach (var (name, rva) in PeExports.Read(reader))
        {
            var forwarder = rva >= (uint)exports.RelativeVirtualAddress && rva < (uint)(exports.RelativeVirtualAddress + exports.Size);
            if (forwarder || rva == 0 || rva > int.MaxValue)
            {
                continue;
            }

            var code = PeExports.Code(reader, (int)rva, 8);
            if (code.Length < 8 || code[0] != 0x4c || code[1] != 0x8b || code[2] != 0xd1 || code[3] != 0xb8)
            {
                continue;
            }

            var number = BinaryPrimitives.ReadInt32LittleEndian(code[4..]);
            if (!byRva.TryGetValue(rva, out var existing) || Preferred(name, existing.Name))
            {
                byRva[rva] = new SyscallStub(name, number, rva);
            }
        }

        var stubs = byRva.Values.ToList();
        stubs.Sort((a, b) => a.Number != b.Number ? a.Number.CompareTo(b.Number) : string.CompareOrdinal(a.Name, b.Name));
        return stubs;
    }

    private static bool Preferred(string candidate, string existing) =>
        candidate.StartsWith("Nt", StringComparison.Ordinal) && !existing.StartsWith("Nt", StringComparison.Ordinal);
}
