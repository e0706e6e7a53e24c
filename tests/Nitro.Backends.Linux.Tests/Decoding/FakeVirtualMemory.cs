using System.Text;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>A sparse guest address space for decoder tests: 4 KiB pages in a sorted map, unmapped elsewhere.</summary>
internal sealed class FakeVirtualMemory : IVirtualMemory
{
    public const int PageSize = 0x1000;

    private readonly SortedDictionary<ulong, byte[]> _pages = [];

    /// <summary>Gets the number of bytes handed out by reads, to check that decoders stay bounded.</summary>
    public long BytesRead { get; private set; }

    public int MappedPages => _pages.Count;

    /// <summary>Maps (zero-filled) every page the range touches and writes the bytes.</summary>
    public ulong Put(ulong address, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            Page(address + (ulong)i, create: true)![(int)((address + (ulong)i) % PageSize)] = bytes[i];
        }

        return address;
    }

    public ulong PutString(ulong address, string text) => Put(address, Encoding.UTF8.GetBytes(text + "\0"));

    public ulong PutUInt64(ulong address, ulong value) => Put(address, BitConverter.GetBytes(value));

    public ulong PutUInt32(ulong address, uint value) => Put(address, BitConverter.GetBytes(value));

    public void MapPage(ulong address) => Page(address, create: true);

    /// <summary>A copy of mapped bytes, without counting them as reads.</summary>
    public byte[] Snapshot(ulong address, int length)
    {
        var bytes = new byte[length];
        var before = BytesRead;
        Read(address, bytes);
        BytesRead = before;
        return bytes;
    }

    public void Read(ulong virtualAddress, Span<byte> destination)
    {
        var got = ReadPartial(virtualAddress, destination);
        if (got < destination.Length)
        {
            throw new GuestMemoryException(virtualAddress + (ulong)got, GuestMemoryFault.NotPresent, 1);
        }
    }

    public int ReadPartial(ulong virtualAddress, Span<byte> destination)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var current = virtualAddress + (ulong)done;
            var page = Page(current, create: false);
            if (page is null)
            {
                break;
            }

            var offset = (int)(current % PageSize);
            var take = Math.Min(PageSize - offset, destination.Length - done);
            page.AsSpan(offset, take).CopyTo(destination[done..]);
            done += take;
        }

        BytesRead += done;
        return done;
    }

    public void Write(ulong virtualAddress, ReadOnlySpan<byte> source) => Put(virtualAddress, source);

    private byte[]? Page(ulong address, bool create)
    {
        var key = address & ~(ulong)(PageSize - 1);
        if (_pages.TryGetValue(key, out var page))
        {
            return page;
        }

        if (!create)
        {
            return null;
        }

        page = new byte[PageSize];
        _pages[key] = page;
        return page;
    }
}
