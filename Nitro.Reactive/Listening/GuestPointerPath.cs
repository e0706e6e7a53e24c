using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Listening;

/// <summary>
/// A pointer chase through guest kernel memory that a listener can follow without knowing the
/// guest's OS: start at a base address, and for each of <see cref="Offsets"/> read the 64-bit
/// value at (address + offset); the result is the last address read plus <see cref="Final"/>.
/// For example a Linux thread's saved frame is <c>[per-cpu base + cpu_current_top_of_stack] − 168</c>:
/// <c>new GuestPointerPath([topOfStackOffset], -168)</c>.
/// </summary>
/// <param name="Offsets">The offsets to read through, in order (at most <see cref="MaxLength"/>).</param>
/// <param name="Final">Added to the last address.</param>
public sealed record GuestPointerPath(IReadOnlyList<long> Offsets, long Final = 0)
{
    /// <summary>The most reads a path may take (the plugin protocol's limit).</summary>
    public const int MaxLength = 4;

    /// <summary>Gets the offsets to read through.</summary>
    public IReadOnlyList<long> Offsets { get; } = Validate(Offsets);

    /// <summary>Follows the path from <paramref name="start"/>.</summary>
    /// <param name="memory">The kernel's view of guest memory.</param>
    /// <param name="start">The base address.</param>
    /// <param name="result">Receives the address the path leads to.</param>
    /// <returns><see langword="false"/> when an address on the way is not readable.</returns>
    public bool TryFollow(IVirtualMemory memory, ulong start, out ulong result)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var address = start;
        Span<byte> value = stackalloc byte[8];
        foreach (var offset in Offsets)
        {
            if (memory.ReadPartial(address + (ulong)offset, value) != value.Length)
            {
                result = 0;
                return false;
            }

            address = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(value);
        }

        result = address + (ulong)Final;
        return true;
    }

    private static IReadOnlyList<long> Validate(IReadOnlyList<long> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (offsets.Count > MaxLength)
        {
            throw new ArgumentException($"A guest pointer path takes at most {MaxLength} reads, not {offsets.Count}.", nameof(offsets));
        }

        return [.. offsets];
    }
}
