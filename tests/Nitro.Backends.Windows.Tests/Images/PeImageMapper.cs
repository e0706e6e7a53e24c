using System.Reflection.PortableExecutable;

namespace Nitro.Backends.Windows.Tests.Images;

/// <summary>Lays a PE file out as the Windows loader maps it: headers, then every section at its RVA (read with PEReader).</summary>
internal static class PeImageMapper
{
    public static byte[] Map(byte[] file)
    {
        using var reader = new PEReader(new MemoryStream(file));
        var headers = reader.PEHeaders;
        var image = new byte[headers.PEHeader!.SizeOfImage];
        file.AsSpan(0, headers.PEHeader.SizeOfHeaders).CopyTo(image);
        foreach (var section in headers.SectionHeaders)
        {
            var length = Math.Min(section.SizeOfRawData, Math.Max(section.VirtualSize, section.SizeOfRawData));
            length = Math.Min(length, image.Length - section.VirtualAddress);
            file.AsSpan(section.PointerToRawData, Math.Min(length, file.Length - section.PointerToRawData)).CopyTo(image.AsSpan(section.VirtualAddress));
        }

        return image;
    }

    public static ulong ImageBase(byte[] file)
    {
        using var reader = new PEReader(new MemoryStream(file));
        return reader.PEHeaders.PEHeader!.ImageBase;
    }
}
