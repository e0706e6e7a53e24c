using System.Buffers.Binary;
using Nitro.Backends.Linux.Btf;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Symbols;
using Nitro.Reactive.Memory;
using Nitro.Tests.Shared;

namespace Nitro.Backends.Linux.Tests.Profile;

/// <summary>
/// The test guest's real kernel without booting it: the vmlinux inside the bzImage (XZ, unpacked with
/// <c>xz</c>), its loadable segments placed at their physical addresses as the boot loader would,
/// not relocated (no KASLR) and with alternatives and ftrace not yet applied.
/// </summary>
internal static class KernelImage
{
    private const uint PtLoad = 1;
    private static readonly Lazy<(ArrayGuestMemory Memory, KernelSymbols Symbols, LinuxKernelProfile Profile)> s_kernel = new(() =>
    {
        var memory = new ArrayGuestMemory(Load(), readOnly: true);
        var symbols = KernelSymbols.Locate(memory);
        return (memory, symbols, LinuxKernelProfile.Build(symbols, BtfTypes.Read(symbols)));
    });

    /// <summary>Gets the kernel's physical memory (read-only).</summary>
    public static ArrayGuestMemory Memory => s_kernel.Value.Memory;

    /// <summary>Gets the kernel's symbols, from its own kallsyms.</summary>
    public static KernelSymbols Symbols => s_kernel.Value.Symbols;

    /// <summary>Gets the profile built from the image.</summary>
    public static LinuxKernelProfile Profile => s_kernel.Value.Profile;

    private static byte[] Load()
    {
        var (kernel, _) = TestGuest.Default;
        var bzImage = File.ReadAllBytes(kernel);
        ReadOnlySpan<byte> xzMagic = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];
        var start = bzImage.AsSpan().IndexOf(xzMagic);
        Assert.That(start, Is.GreaterThan(0), $"{kernel} holds no XZ-compressed vmlinux");

        var directory = Directory.CreateTempSubdirectory("nitro-vmlinux-").FullName;
        try
        {
            var payload = Path.Combine(directory, "vmlinux.xz");
            var vmlinux = Path.Combine(directory, "vmlinux");
            File.WriteAllBytes(payload, bzImage[start..]);
            var (exitCode, _, error) = ProcessRunner.Run("bash", TimeSpan.FromMinutes(2), "-c", "xz -dc --single-stream \"$0\" > \"$1\"", payload, vmlinux);
            Assert.That(exitCode, Is.Zero, $"xz failed: {error}");
            return Place(File.ReadAllBytes(vmlinux));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static byte[] Place(byte[] elf)
    {
        var header = elf.AsSpan();
        var programHeaders = (int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]);
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(header[0x36..]);
        var count = BinaryPrimitives.ReadUInt16LittleEndian(header[0x38..]);
        var segments = new List<(ulong Offset, ulong Physical, ulong FileSize, ulong MemorySize)>();
        for (var i = 0; i < count; i++)
        {
            var entry = header[(programHeaders + (i * entrySize))..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(entry) == PtLoad)
            {
                segments.Add((BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[24..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[40..])));
            }
        }

        var size = segments.Max(s => s.Physical + s.MemorySize);
        Assert.That(size, Is.LessThan(256UL << 20), "the kernel image should fit in the guest's RAM");
        var memory = new byte[size];
        foreach (var segment in segments)
        {
            elf.AsSpan((int)segment.Offset, (int)segment.FileSize).CopyTo(memory.AsSpan((int)segment.Physical));
        }

        return memory;
    }
}
