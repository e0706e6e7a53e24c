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

    /// <summary>How much physical memory <see cref="Find"/> scans for a page-table root at most.</summary>
    public const ulong MaxPhysicalScan = PageTableRoots.MaxScan;

    private const ulong KernelHalf = 0xFFFF_8000_0000_0000;
    private const int MaxRoots = 16;
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

    /// <summary>
    /// Finds the kernel image from guest physical memory alone, without registers (for listeners
    /// that read none at attach): a page-table root is found by its self-reference (the low ranges
    /// where Windows puts the System process's table first, at most
    /// <see cref="MaxPhysicalScan"/> bytes), then the kernel among the upper-half pages it maps, as
    /// the x64 PE whose CodeView record names <c>ntkrnlmp.pdb</c> or <c>ntoskrnl.pdb</c>. Both
    /// searches are bounded, so memory that is not Windows ends them with an exception.
    /// </summary>
    /// <param name="memory">Guest physical memory.</param>
    /// <param name="cancellationToken">Cancels the scans.</param>
    /// <returns>The image, with the root it was found through as <see cref="DirectoryTableBase"/>.</returns>
    /// <exception cref="WindowsProfileException">No root, or no kernel image under any root; the message says which and why that may be.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static WindowsKernelImage Find(IGuestMemory memory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var scan = new KernelImageScan(memory, cancellationToken);
        var roots = 0;
        ulong first = 0;
        foreach (var (root, selfIndex) in PageTableRoots.Enumerate(memory, cancellationToken))
        {
            first = roots++ == 0 ? root : first;
            if (scan.Find(root, selfIndex) is { } image)
            {
                return image;
            }

            if (scan.Exhausted || roots >= MaxRoots)
            {
                break;
            }
        }

        var scanned = PageTableRoots.ScanEnd(memory);
        throw new WindowsProfileException(roots == 0
            ? string.Create(CultureInfo.InvariantCulture, $"No Windows x64 page-table root (a top-level table that maps itself through one upper-half entry) in the first {scanned >> 20} MiB of guest memory: the kernel has not enabled its page tables yet, or the guest is not 64-bit Windows.")
            : string.Create(CultureInfo.InvariantCulture, $"{roots} page-table root(s) found (the first at physical 0x{first:x}), but none maps an x64 PE image whose CodeView record names ntkrnlmp.pdb or ntoskrnl.pdb ({scan.PagesSeen} mapped kernel pages looked at): the kernel is not loaded yet, or the guest is not 64-bit Windows."));
    }

    private static ulong IdtHandler(IVirtualMemory space, ulong idt)
    {
        Span<byte> gate = stackalloc byte[16];
        space.Read(idt, gate);
        return BinaryPrimitives.ReadUInt16LittleEndian(gate)
            | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16)
            | ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32);
    }

    /// <summary>Reads the x64 PE image at <paramref name="imageBase"/>, or <see langword="null"/> when there is none.</summary>
    internal static WindowsKernelImage? TryRead(X86AddressSpace space, ulong imageBase, ulong inside, ulong cr3)
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
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
