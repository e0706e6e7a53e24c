using System.Globalization;
using System.Text.RegularExpressions;

namespace Nitro.Kvm.Memory;

/// <summary>One range of guest physical addresses backed by QEMU's main RAM block.</summary>
/// <param name="GuestAddress">The first guest physical address.</param>
/// <param name="Length">The length in bytes.</param>
/// <param name="RamOffset">Where the range starts in the RAM block (the host mapping).</param>
public readonly record struct QemuRamSegment(ulong GuestAddress, ulong Length, ulong RamOffset)
{
    /// <summary>Gets the first guest physical address after the range.</summary>
    public ulong GuestEnd => GuestAddress + Length;
}

/// <summary>
/// Where guest physical memory lies in QEMU's main RAM block. A PC guest with more RAM than fits
/// below the 32-bit PCI hole has it in two pieces — below 4 GiB, and the rest from 4 GiB up, which
/// sits right after the low part in the block (e.g. 4 GiB on <c>pc</c>: 3 GiB at 0, 1 GiB at 4 GiB) —
/// so a guest physical address is not an offset in the block. QEMU's flat view
/// (<c>info mtree -f</c>) says exactly where each piece is, for any machine type.
/// </summary>
public sealed partial class QemuRamLayout
{
    private const ulong FourGiB = 1UL << 32;

    private QemuRamLayout(IReadOnlyList<QemuRamSegment> segments, ulong ramSize)
    {
        Segments = segments;
        RamSize = ramSize;
    }

    /// <summary>Gets the ranges, by guest address; the first starts at 0 and maps to offset 0.</summary>
    public IReadOnlyList<QemuRamSegment> Segments { get; }

    /// <summary>Gets the size of the RAM block.</summary>
    public ulong RamSize { get; }

    /// <summary>Gets the first guest physical address after all RAM.</summary>
    public ulong GuestEnd => Segments[^1].GuestEnd;

    /// <summary>Gets a value indicating whether guest physical addresses are offsets in the block (one piece from 0).</summary>
    public bool IsFlat => Segments.Count == 1;

    /// <summary>Gets the layout of RAM that lies in one piece from guest address 0.</summary>
    /// <param name="ramSize">The RAM size in bytes.</param>
    /// <returns>The layout.</returns>
    public static QemuRamLayout Flat(ulong ramSize)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ramSize);
        return new QemuRamLayout([new QemuRamSegment(0, ramSize, 0)], ramSize);
    }

    /// <summary>
    /// Reads the layout from QEMU's answer to <c>info mtree -f</c>: the ranges of the system memory
    /// view that are the RAM block of <paramref name="ramSize"/> bytes (the <c>ram</c> region that maps
    /// the most). Ranges mapped at their own offset below 4 GiB count as one piece from 0 (what the
    /// BIOS and VGA areas shadow is read from RAM, as before the split mattered).
    /// </summary>
    /// <param name="flatView">The monitor's text.</param>
    /// <param name="ramSize">The RAM size in bytes.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="FormatException">The text holds no RAM view, or ranges outside the block.</exception>
    public static QemuRamLayout Parse(string flatView, ulong ramSize)
    {
        ArgumentNullException.ThrowIfNull(flatView);
        ArgumentOutOfRangeException.ThrowIfZero(ramSize);
        var ranges = new List<(string Name, QemuRamSegment Segment)>();
        foreach (var line in SystemMemoryView(flatView))
        {
            var match = RamLine().Match(line);
            if (!match.Success)
            {
                continue;
            }

            var start = Hex(match.Groups["start"].Value);
            var end = Hex(match.Groups["end"].Value);
            var offset = match.Groups["offset"].Success ? Hex(match.Groups["offset"].Value) : 0;
            if (end >= start)
            {
                ranges.Add((match.Groups["name"].Value, new QemuRamSegment(start, end - start + 1, offset)));
            }
        }

        var main = ranges.GroupBy(r => r.Name, StringComparer.Ordinal)
            .OrderByDescending(g => g.Aggregate(0UL, (total, r) => total + r.Segment.Length))
            .FirstOrDefault() ?? throw new FormatException("QEMU's flat memory view lists no RAM region.");
        return FromSegments(main.Key, [.. main.Select(r => r.Segment)], ramSize);
    }

    /// <summary>Finds where a guest physical address is in the RAM block.</summary>
    /// <param name="guestAddress">The guest physical address.</param>
    /// <param name="ramOffset">Receives its offset in the block.</param>
    /// <param name="contiguous">Receives how many bytes from there belong to the same piece.</param>
    /// <returns><see langword="false"/> when no RAM is at that address.</returns>
    public bool TryTranslate(ulong guestAddress, out ulong ramOffset, out ulong contiguous)
    {
        foreach (var segment in Segments)
        {
            if (guestAddress >= segment.GuestAddress && guestAddress < segment.GuestEnd)
            {
                ramOffset = segment.RamOffset + (guestAddress - segment.GuestAddress);
                contiguous = segment.GuestEnd - guestAddress;
                return true;
            }
        }

        ramOffset = 0;
        contiguous = 0;
        return false;
    }

    private static QemuRamLayout FromSegments(string name, List<QemuRamSegment> ranges, ulong ramSize)
    {
        foreach (var range in ranges)
        {
            if (range.RamOffset > ramSize || range.Length > ramSize - range.RamOffset)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                    $"QEMU maps {name} at 0x{range.GuestAddress:x} from offset 0x{range.RamOffset:x} for 0x{range.Length:x} bytes, outside its {ramSize} bytes: is {ramSize} the guest's RAM size?"));
            }
        }

        // Below 4 GiB, ranges at their own offset become one piece from 0; the others stay as they are.
        static bool AtOwnOffsetBelow4GiB(QemuRamSegment r) => r.GuestAddress == r.RamOffset && r.GuestEnd <= FourGiB;
        var identity = ranges.Where(AtOwnOffsetBelow4GiB).ToList();
        var segments = new List<QemuRamSegment>();
        if (identity.Count > 0)
        {
            segments.Add(new QemuRamSegment(0, identity.Max(r => r.GuestEnd), 0));
        }

        segments.AddRange(ranges.Where(r => !AtOwnOffsetBelow4GiB(r)).OrderBy(r => r.GuestAddress));
        if (segments.Count == 0 || segments[0].GuestAddress != 0)
        {
            throw new FormatException($"QEMU's flat memory view has no {name} at guest address 0.");
        }

        for (var i = 1; i < segments.Count; i++)
        {
            if (segments[i].GuestAddress < segments[i - 1].GuestEnd)
            {
                throw new FormatException($"QEMU's flat memory view has overlapping {name} ranges at 0x{segments[i].GuestAddress:x}.");
            }
        }

        return new QemuRamLayout(segments, ramSize);
    }

    /// <summary>The lines of the first flat view that serves the <c>memory</c> address space (the system bus).</summary>
    private static IEnumerable<string> SystemMemoryView(string text)
    {
        var inView = false;
        var isSystem = false;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("FlatView", StringComparison.Ordinal))
            {
                if (isSystem)
                {
                    yield break;
                }

                inView = true;
                continue;
            }

            if (inView && line.TrimStart().StartsWith("AS \"memory\"", StringComparison.Ordinal))
            {
                isSystem = true;
            }
            else if (isSystem)
            {
                yield return line;
            }
        }
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\s*(?<start>[0-9a-f]+)-(?<end>[0-9a-f]+) \(prio -?\d+, ram\): (?<name>[^\s@]+)(?: @(?<offset>[0-9a-f]+))?", RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex RamLine();
}
