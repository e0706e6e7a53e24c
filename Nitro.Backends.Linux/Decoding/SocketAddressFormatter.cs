using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>Renders the bytes of a <c>struct sockaddr</c>: <c>1.2.3.4:80</c>, <c>[::1]:443</c>, a UNIX path, <c>@abstract</c>.</summary>
internal static class SocketAddressFormatter
{
    private const int AfUnix = 1, AfInet = 2, AfInet6 = 10, AfNetlink = 16;

    /// <param name="bytes">The bytes read (already bounded).</param>
    public static string Format(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 2)
        {
            return string.Create(CultureInfo.InvariantCulture, $"short sockaddr ({bytes.Length} bytes)");
        }

        int family = BinaryPrimitives.ReadUInt16LittleEndian(bytes);
        switch (family)
        {
            case AfInet when bytes.Length >= 8:
                return string.Create(
                    CultureInfo.InvariantCulture,
                    $"{bytes[4]}.{bytes[5]}.{bytes[6]}.{bytes[7]}:{BinaryPrimitives.ReadUInt16BigEndian(bytes[2..])}");
            case AfInet6 when bytes.Length >= 24:
                var scope = bytes.Length >= 28 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]) : 0;
                var address = new IPAddress(bytes[8..24], scope);
                return string.Create(CultureInfo.InvariantCulture, $"[{address}]:{BinaryPrimitives.ReadUInt16BigEndian(bytes[2..])}");
            case AfInet or AfInet6:
                return string.Create(CultureInfo.InvariantCulture, $"{LinuxFlags.SocketFamily(family)} (truncated, {bytes.Length} bytes)");
            case AfUnix:
                return FormatUnix(bytes[2..]);
            case AfNetlink when bytes.Length >= 12:
                return string.Create(
                    CultureInfo.InvariantCulture,
                    $"netlink pid={BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..])} groups=0x{BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]):x}");
            default:
                return string.Create(CultureInfo.InvariantCulture, $"family={family}");
        }
    }

    private static string FormatUnix(ReadOnlySpan<byte> path)
    {
        if (path.IsEmpty)
        {
            return "(unnamed)";
        }

        if (path[0] == 0)
        {
            // Abstract namespace: every byte of the given length belongs to the name, NULs included.
            var name = Encoding.UTF8.GetString(path[1..]);
            return "@" + name.Replace('\0', '@');
        }

        var end = path.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? path : path[..end]);
    }
}
