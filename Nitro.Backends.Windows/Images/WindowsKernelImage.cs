using System.Buffers.Binary;
using System.Globalization;
using System.Reflection.PortableExecutable;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Images;

/// <summary>
/// The Windows kernel image (<c>ntoskrnl.exe</c>) as found in guest memory: its base address,
/// the page-table root it was read through, the PDB it names in its CodeView record (which
/// picks the symbol table), and its build number from the exported <c>NtBuildNumber</c>.
/// </summary>
public sealed class WindowsKernelImage
{
    /// <summary>How far below the hint the image header is searched for (64 MiB).</summary>
    public const ulong MaxSearch = 64UL << 20;

    private const ulong KernelHalf = 0xFFFF_8000_0000_0000;
    private const long MaxImageSize = 128L << 20;

    /// <summary>Initializes a new instance from known values (a test, or a caller that already located the kernel).</summary>
    /// <param name="imageBase">The image base (virtual).</param>
    /// <param name="directoryTableBase">A page-table root that maps the kernel (the System process's, or any CR3 taken in kernel mode).</param>
    /// <param name="identity">The PDB identity, when known.</param>
    /// <param name="buildNumber">The build number, when known.</param>
    /// <param name="exports">Exported symbols by name (relative addresses), when known.</param>
    public WindowsKernelImage(ulong imageBase, ulong directoryTableBase, PdbIdentity? identity = null, int? buildNumber = null, IReadOnlyDictionary<string, ulong>? exports = null)
    {
        ImageBase = imageBase;
        DirectoryTableBase = directoryTableBase;
        Identity = identity;
        BuildNumber = buildNumber;
        Exports = exports ?? new Dictionary<string, ulong>(StringComparer.Ordinal);
    }

    /// <summary>Gets the image base.</summary>
    public ulong ImageBase { get; }

    /// <summary>Gets the page-table root the back end reads kernel memory through.</summary>
    public ulong DirectoryTableBase { get; }

    /// <summary>Gets the PDB identity from the CodeView record, when the image has one.</summary>
    public PdbIdentity? Identity { get; }

    /// <summary>Gets the build number (<c>NtBuildNumber</c> &amp; 0xFFFF), when the image exports it.</summary>
    public int? BuildNumber { get; }

    /// <summary>Gets the exported names the back end may use (<c>PsInitialSystemProcess</c>, <c>NtBuildNumber</c>), relative to the base.</summary>
    public IReadOnlyDictionary<string, ulong> Exports { get; }

    /// <summary>
    /// Finds the kernel image below an address inside it — by default the first interrupt
    /// handler of the IDT that <paramref name="specialRegisters"/> point to — by looking for an x64
    /// PE header at each page start, at most <see cref="MaxSearch"/> below.
    /// </summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <param name="specialRegisters">Special registers taken while the kernel's page tables were live (CR3 maps the kernel).</param>
    /// <param name="hint">An address inside the kernel image, or <see langword="null"/> to take IDT entry 0's handler.</param>
    /// <returns>The image.</returns>
    /// <exception cref="WindowsProfileException">No kernel image was found; the message says where the search went.</exception>
    public static WindowsKernelImage Locate(IGuestMemory memory, in SpecialRegisters specialRegisters, ulong? hint = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var space = X86AddressSpace.FromRegisters(memory, in specialRegisters);
        ulong start;
        try
        {
            start = hint ?? IdtHandler(space, specialRegisters.Idt.Base);
        }
        catch (GuestMemoryException ex)
        {
            throw new WindowsProfileException(string.Create(CultureInfo.InvariantCulture, $"The IDT at 0x{specialRegisters.Idt.Base:x} is not readable through CR3 0x{specialRegisters.Cr3:x}: take the registers while the guest kernel runs."), ex);
        }

        if (start < KernelHalf)
        {
            throw new WindowsProfileException(string.Create(CultureInfo.InvariantCulture, $"0x{start:x} is not a kernel address: the Windows kernel cannot be searched from there."));
        }

        Span<byte> header = stackalloc byte[0x40];
        var page = start & ~0xFFFUL;
        for (ulong scanned = 0; scanned < MaxSearch && page >= KernelHalf; scanned += 0x1000, page -= 0x1000)
        {
            if (space.ReadPartial(page, header[..2]) != 2 || header[0] != (byte)'M' || header[1] != (byte)'Z')
            {
                continue;
            }

            var image = TryRead(space, page, start, specialRegisters.Cr3);
            if (image is not null)
            {
                return image;
            }
        }

        throw new WindowsProfileException(string.Create(CultureInfo.InvariantCulture, $"No x64 kernel image (MZ/PE header) within {MaxSearch >> 20} MiB below 0x{start:x}."));
    }

    private static ulong IdtHandler(IVirtualMemory space, ulong idt)
    {
        Span<byte> gate = stackalloc byte[16];
        space.Read(idt, gate);
        return BinaryPrimitives.ReadUInt16LittleEndian(gate)
            | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16)
            | ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32);
    }

    private static WindowsKernelImage? TryRead(X86AddressSpace space, ulong imageBase, ulong inside, ulong cr3)
    {
        Span<byte> bytes = stackalloc byte[0x200];
        if (space.ReadPartial(imageBase, bytes) < 0x200)
        {
            return null;
        }

        var peOffset = BinaryPrimitives.ReadInt32LittleEndian(bytes[0x3c..]);
        if (peOffset is < 0x40 or > 0x200 - 0x78
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes[peOffset..]) != 0x4550
            || BinaryPrimitives.ReadUInt16LittleEndian(bytes[(peOffset + 4)..]) != (ushort)Machine.Amd64)
        {
            return null;
        }

        var sizeOfImage = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(peOffset + 24 + 56)..]);
        if (sizeOfImage == 0 || sizeOfImage > MaxImageSize)
        {
            return null;
        }

        try
        {
            using var stream = new GuestImageStream(space, imageBase, (long)Math.Max(sizeOfImage, Math.Min(inside - imageBase + 1, (ulong)MaxImageSize)));
            using var reader = new PEReader(stream, PEStreamOptions.IsLoadedImage | PEStreamOptions.LeaveOpen);
            var identity = PeExports.ReadPdbIdentity(reader);
            var exports = new Dictionary<string, ulong>(StringComparer.Ordinal);
            foreach (var (name, rva) in PeExports.Read(reader))
            {
                if (name is "NtBuildNumber" or "PsInitialSystemProcess" or "KeServiceDescriptorTable" or "PsActiveProcessHead")
                {
                    exports[name] = rva;
                }
            }

            int? build = null;
            if (exports.TryGetValue("NtBuildNumber", out var buildRva))
            {
                Span<byte> number = stackalloc byte[4];
                if (space.ReadPartial(imageBase + buildRva, number) == 4)
                {
                    build = (int)(BinaryPrimitives.ReadUInt32LittleEndian(number) & 0xFFFF);
                }
            }

            return new WindowsKernelImage(imageBase, cr3 & PageTableBits.Cr3AddressMask, identity, build, exports);
        }
        catch (BadImageFormatException)
        {
            return null;
        }
        catch (PeFormatException)
        {
            return null;
        }
    }
}
