using Nitro.Backends.Windows.Decoding;

namespace Nitro.Backends.Windows.Tests.Decoding;

public sealed class NamedValuesTests
{
    [Test]
    public void Flags_name_every_known_bit_and_keep_the_unknown_rest_in_hex()
    {
        Assert.That(NtFlags.ShareAccess.Format(0x3), Is.EqualTo("FILE_SHARE_READ|FILE_SHARE_WRITE"));
        Assert.That(NtFlags.ShareAccess.Format(0x11), Is.EqualTo("FILE_SHARE_READ|0x10"));
        Assert.That(NtFlags.FileAccess.Format(0x1F01FF), Is.EqualTo("FILE_ALL_ACCESS"));
        Assert.That(NtFlags.CreateDisposition.Format(9), Is.EqualTo("0x9"));
    }

    [Test]
    public void Cached_texts_stay_right_when_values_share_a_cache_slot()
    {
        // 0x1 and 0x40 and 0x41 land in different or equal slots; every answer must still be its own.
        uint[] values = [0x1, 0x40, 0x41, 0x1, 0x10001, 0x40, 0x1];
        var first = values.Select(NtFlags.CreateOptions.Format).ToList();
        var again = values.Select(NtFlags.CreateOptions.Format).ToList();

        Assert.That(again, Is.EqualTo(first));
        Assert.That(first[0], Is.EqualTo("FILE_DIRECTORY_FILE"));
        Assert.That(first[1], Is.EqualTo("FILE_NON_DIRECTORY_FILE"));
        Assert.That(first[2], Is.EqualTo("FILE_DIRECTORY_FILE|FILE_NON_DIRECTORY_FILE"));
        Assert.That(first[4], Is.EqualTo("FILE_DIRECTORY_FILE|0x10000"));
    }
}
