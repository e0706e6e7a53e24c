using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

public sealed class GuestMemoryRangeTests
{
    [Test]
    public void A_source_that_says_nothing_is_one_range_from_0()
    {
        IGuestMemory memory = new ArrayGuestMemory(0x3000);

        Assert.That(memory.RamRanges, Is.EqualTo(new[] { new GuestMemoryRange(0, 0x3000) }));
        Assert.That(GuestMemoryRange.Readable(memory, 0x2ff0, 0x100), Is.EqualTo(0x10UL));
        Assert.That(GuestMemoryRange.Readable(memory, 0x3000, 1), Is.Zero);
    }

    [Test]
    public void Readable_stops_at_the_end_of_the_range_that_holds_the_address()
    {
        var memory = new TwoRanges();

        Assert.That(GuestMemoryRange.TryFind(memory, 0x1_0000_0010, out var high), Is.True);
        Assert.That(high, Is.EqualTo(new GuestMemoryRange(0x1_0000_0000, 0x1000)));
        Assert.That(GuestMemoryRange.Readable(memory, 0xff0, 0x100), Is.EqualTo(0x10UL), "up to the hole");
        Assert.That(GuestMemoryRange.TryFind(memory, 0x8000_0000, out _), Is.False, "in the hole");
    }

    private sealed class TwoRanges : IGuestMemory
    {
        public ulong Size => 0x1_0000_1000;

        public IReadOnlyList<GuestMemoryRange> RamRanges { get; } = [new(0, 0x1000), new(0x1_0000_0000, 0x1000)];

        public void Read(ulong physicalAddress, Span<byte> destination) => throw new NotSupportedException();

        public void Write(ulong physicalAddress, ReadOnlySpan<byte> source) => throw new NotSupportedException();
    }
}
