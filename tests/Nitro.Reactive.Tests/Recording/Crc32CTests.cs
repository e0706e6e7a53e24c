using System.Runtime.Intrinsics.X86;
using Nitro.Reactive.Recording.Internal;

namespace Nitro.Reactive.Tests.Recording;

public sealed class Crc32CTests
{
    [Test]
    public void Software_crc_of_the_check_string_is_E3069283() =>
        Assert.That(Crc32C.ComputeSoftware("123456789"u8), Is.EqualTo(0xE3069283u));

    [Test]
    public void Hardware_crc_of_the_check_string_is_E3069283()
    {
        Assume.That(Sse42.X64.IsSupported, "this processor has no SSE 4.2 crc32 instruction");
        Assert.That(Crc32C.ComputeHardware("123456789"u8), Is.EqualTo(0xE3069283u));
    }

    [Test]
    public void Crc_of_32_zero_bytes_matches_the_RFC_3720_vector()
    {
        var zeros = new byte[32];
        Assert.That(Crc32C.ComputeSoftware(zeros), Is.EqualTo(0x8A9136AAu));
        Assert.That(Crc32C.Compute(zeros), Is.EqualTo(0x8A9136AAu));
    }

    [Test]
    public void Hardware_and_software_agree_on_every_length_up_to_2000()
    {
        Assume.That(Sse42.X64.IsSupported, "this processor has no SSE 4.2 crc32 instruction");
        var rng = new Random(7);
        var data = new byte[2000];
        rng.NextBytes(data);
        for (var length = 0; length <= data.Length; length++)
        {
            var span = data.AsSpan(0, length);
            Assert.That(Crc32C.ComputeHardware(span), Is.EqualTo(Crc32C.ComputeSoftware(span)), $"length {length}");
        }
    }

    [Test]
    public void Hardware_and_software_agree_on_a_large_buffer()
    {
        Assume.That(Sse42.X64.IsSupported, "this processor has no SSE 4.2 crc32 instruction");
        var data = new byte[(1 << 20) + 13];
        new Random(8).NextBytes(data);
        Assert.That(Crc32C.ComputeHardware(data), Is.EqualTo(Crc32C.ComputeSoftware(data)));
    }
}
