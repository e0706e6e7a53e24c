using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Tests.Memory;

public sealed class ArrayGuestMemoryTests
{
    [Test]
    public void Reads_and_writes_the_backing_array()
    {
        var bytes = new byte[0x100];
        var memory = new ArrayGuestMemory(bytes);

        memory.Write(0xFC, [1, 2, 3, 4]);
        var read = new byte[4];
        memory.Read(0xFC, read);

        Assert.Multiple(() =>
        {
            Assert.That(memory.Size, Is.EqualTo(0x100UL));
            Assert.That(read, Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
            Assert.That(bytes[0xFF], Is.EqualTo(4));
        });
    }

    [Test]
    public void A_slice_of_memory_starts_at_physical_address_zero()
    {
        var bytes = new byte[] { 9, 8, 7, 6, 5 };
        var memory = new ArrayGuestMemory(bytes.AsMemory(2));
        var read = new byte[3];

        memory.Read(0, read);

        Assert.Multiple(() =>
        {
            Assert.That(memory.Size, Is.EqualTo(3UL));
            Assert.That(read, Is.EqualTo(new byte[] { 7, 6, 5 }));
        });
    }

    [TestCase(0xFDUL, 4)]
    [TestCase(0x100UL, 1)]
    [TestCase(0xFFFF_FFFF_FFFF_FFFFUL, 2)]
    public void Read_past_the_end_throws_OutOfRange_at_level_0(ulong address, int length)
    {
        var memory = new ArrayGuestMemory(0x100);

        var ex = Assert.Throws<GuestMemoryException>(() => memory.Read(address, new byte[length]));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.OutOfRange));
            Assert.That(ex.Level, Is.Zero);
            Assert.That(ex.Address, Is.EqualTo(address));
            Assert.That(ex.Message, Does.Contain($"0x{address:x}"));
        });
    }

    [Test]
    public void Write_past_the_end_throws_and_writes_nothing()
    {
        var bytes = new byte[0x100];
        var memory = new ArrayGuestMemory(bytes);

        var ex = Assert.Throws<GuestMemoryException>(() => memory.Write(0xFE, new byte[] { 1, 2, 3 }));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Fault, Is.EqualTo(GuestMemoryFault.OutOfRange));
            Assert.That(bytes, Is.All.Zero);
        });
    }

    [Test]
    public void An_empty_read_at_the_end_succeeds()
    {
        var memory = new ArrayGuestMemory(0x10);

        Assert.DoesNotThrow(() => memory.Read(0x10, []));
    }

    [Test]
    public void Read_only_memory_refuses_writes_as_documented_by_IGuestMemory()
    {
        var bytes = new byte[16];
        var memory = new ArrayGuestMemory(bytes, readOnly: true);

        Assert.Multiple(() =>
        {
            Assert.That(memory.IsReadOnly, Is.True);
            Assert.Throws<NotSupportedException>(() => memory.Write(0, new byte[] { 1 }));
            Assert.That(bytes, Is.All.Zero);
        });
    }

    [Test]
    public void Negative_size_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ArrayGuestMemory(-1));
    }
}
