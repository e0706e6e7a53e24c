using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Reactive.Backends;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Windows.Tracing;

/// <summary>
/// Creates the <see cref="WindowsBackend"/> of a running x64 Windows guest from its physical memory
/// alone (<see cref="WindowsKernelImage.Find"/>), for sessions whose listener reads no register at
/// attach (the QEMU plugin): the kernel image and the PDB it names, its profile (the symbol table
/// of that PDB from <see cref="SymbolsDirectory"/>, else built-in offsets by build), and the System
/// process's page tables. Until the kernel has set up what tracing reads (the System process, the
/// processor block, the service table) it answers "not ready" with the reason.
/// </summary>
public sealed class WindowsBackendFactory : ISyscallBackendFactory
{
    private const int MaxServices = 0x1000;

    private readonly ConcurrentDictionary<string, WindowsKernelProfile> _profiles = new(StringComparer.Ordinal);
    private Located? _last;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="symbolsDirectory">A Volatility 3 symbols directory (<c>windows/ntkrnlmp.pdb/&lt;GUID&gt;-&lt;age&gt;.json.xz</c>), or <see langword="null"/> for built-in offsets only.</param>
    /// <param name="hookFailurePolicy">What the back end does when a hook throws.</param>
    public WindowsBackendFactory(string? symbolsDirectory = null, HookFailurePolicy hookFailurePolicy = HookFailurePolicy.Report)
    {
        SymbolsDirectory = symbolsDirectory;
        HookFailurePolicy = hookFailurePolicy;
    }

    /// <summary>Gets a factory without a symbols directory.</summary>
    public static WindowsBackendFactory Default { get; } = new();

    /// <inheritdoc />
    public string Name => "Windows";

    /// <summary>Gets the symbols directory, or <see langword="null"/>.</summary>
    public string? SymbolsDirectory { get; }

    /// <summary>Gets what created back ends do when a hook throws.</summary>
    public HookFailurePolicy HookFailurePolicy { get; }

    /// <inheritdoc />
    /// <remarks>
    /// A kernel whose profile has no symbols (built-in offsets) is found but never ready: every
    /// trap plan needs the build's symbol table, and the reason names the file to add. The kernel's
    /// location is remembered per memory source, so polling while the guest boots re-scans only
    /// when the kernel has moved (a reboot).
    /// </remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled during a scan.</exception>
    public bool TryCreate(IGuestMemory memory, [NotNullWhen(true)] out SyscallBackend? backend, out string? notReady, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        backend = null;
        try
        {
            var image = Locate(memory, cancellationToken);
            var profile = Profile(image);
            notReady = SystemImage(memory, profile, ref image) ?? Initialized(new X86AddressSpace(memory, image.DirectoryTableBase), profile, image);
            if (notReady is not null)
            {
                return false;
            }

            var windows = new WindowsBackend(memory, profile, image, HookFailurePolicy);
            try
            {
                windows.CreatePlan(null);
            }
            catch (WindowsProfileException e) when (!profile.HasSymbols)
            {
                throw new WindowsProfileException(
                    $"{e.Message} Put windows/{image.Identity!.DatabaseName}/{image.Identity.IsfStem}.json.xz (the Volatility 3 symbol table of this kernel) under {SymbolsDirectory ?? "a symbols directory given to WindowsBackendFactory"}.",
                    e);
            }

            backend = windows;
            return true;
        }
        catch (WindowsProfileException e)
        {
            notReady = e.Message;
            return false;
        }
    }

    /// <summary>The kernel image: where it was last time when it is still there, else found anew.</summary>
    private WindowsKernelImage Locate(IGuestMemory memory, CancellationToken cancellationToken)
    {
        if (_last is { } last && ReferenceEquals(last.Memory, memory) && StillThere(memory, last.Image))
        {
            return last.Image;
        }

        var image = WindowsKernelImage.Find(memory, cancellationToken);
        _last = new Located(memory, image);
        return image;
    }

    private static bool StillThere(IGuestMemory memory, WindowsKernelImage image)
    {
        var space = new X86AddressSpace(memory, image.DirectoryTableBase);
        return WindowsKernelImage.TryRead(space, image.ImageBase, image.ImageBase, image.DirectoryTableBase) is { } again && again.Identity == image.Identity;
    }

    /// <summary>The profile of the image's PDB; symbol-table profiles are kept, since loading one takes a while.</summary>
    private WindowsKernelProfile Profile(WindowsKernelImage image)
    {
        var identity = image.Identity!;
        if (_profiles.TryGetValue(identity.IsfStem, out var known))
        {
            return known;
        }

        var profile = WindowsKernelProfile.Resolve(identity, image.BuildNumber, SymbolsDirectory);
        return profile.HasSymbols ? _profiles.GetOrAdd(identity.IsfStem, profile) : profile;
    }

    /// <summary>
    /// Switches <paramref name="image"/> to the System process's page tables (the root found by the
    /// scan may be any process's), once <c>PsInitialSystemProcess</c> is set.
    /// </summary>
    /// <returns>Why the guest is not ready, or <see langword="null"/>.</returns>
    private static string? SystemImage(IGuestMemory memory, WindowsKernelProfile profile, ref WindowsKernelImage image)
    {
        if (!profile.TryGetSymbol("PsInitialSystemProcess", out var rva) && !image.Exports.TryGetValue("PsInitialSystemProcess", out rva))
        {
            return null;
        }

        var kernel = new X86AddressSpace(memory, image.DirectoryTableBase);
        try
        {
            var system = kernel.ReadUInt64(image.ImageBase + rva);
            if (system == 0)
            {
                return Hex($"The kernel at 0x{image.ImageBase:x} has not created the System process yet (PsInitialSystemProcess is 0).");
            }

            var root = kernel.ReadUInt64(system + (ulong)profile.Offsets.KprocessDirectoryTableBase) & PageTableBits.Cr3AddressMask;
            var systemSpace = new X86AddressSpace(memory, root);
            if (root != 0 && systemSpace.TryTranslate(image.ImageBase, out var viaSystem) && kernel.TryTranslate(image.ImageBase, out var viaScan) && viaSystem == viaScan)
            {
                image = new WindowsKernelImage(image.ImageBase, root, image.Identity, image.BuildNumber, image.Exports);
            }

            return null;
        }
        catch (GuestMemoryException e)
        {
            return Hex($"The System process of the kernel at 0x{image.ImageBase:x} is not readable yet ({e.Message}).");
        }
    }

    /// <summary>What the back end reads at every trap must exist: processor 0's block, the nt service table, a process in the list.</summary>
    /// <returns>Why the guest is not ready, or <see langword="null"/>.</returns>
    private static string? Initialized(X86AddressSpace kernel, WindowsKernelProfile profile, WindowsKernelImage image)
    {
        try
        {
            if (profile.TryGetSymbol("KiProcessorBlock", out var block) && kernel.ReadUInt64(image.ImageBase + block) == 0)
            {
                return Hex($"The kernel at 0x{image.ImageBase:x} has not set up processor 0 yet (KiProcessorBlock[0] is 0).");
            }

            if (profile.TryGetSymbol("KeServiceDescriptorTable", out var descriptor))
            {
                var serviceBase = kernel.ReadUInt64(image.ImageBase + descriptor);
                var limit = kernel.ReadUInt64(image.ImageBase + descriptor + 0x10);
                if (serviceBase == 0 || limit is 0 or > MaxServices)
                {
                    return Hex($"The kernel at 0x{image.ImageBase:x} has not filled in its service table yet (KeServiceDescriptorTable: base 0x{serviceBase:x}, limit {limit}).");
                }
            }

            if (profile.TryGetSymbol("PsActiveProcessHead", out var headRva))
            {
                var head = image.ImageBase + headRva;
                var first = kernel.ReadUInt64(head);
                if (first == 0 || first == head)
                {
                    return Hex($"The kernel at 0x{image.ImageBase:x} has no process in PsActiveProcessHead yet.");
                }
            }

            return null;
        }
        catch (GuestMemoryException e)
        {
            return Hex($"The kernel data of the image at 0x{image.ImageBase:x} is not readable yet ({e.Message}).");
        }
    }

    private static string Hex(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Located(IGuestMemory Memory, WindowsKernelImage Image);
}
