using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using Nitro.Reactive.Memory;

namespace Nitro.Benchmarks.Memory;

/// <summary>Address translation and reads through <see cref="X86AddressSpace"/> over an in-memory guest.</summary>
[MemoryDiagnoser]
public class TranslationBenchmarks
{
    private const ulong Root = 0x1000;
    private const ulong UserBase = 0x0000_7FFF_0000_0000;
    private const int Pages = 64;
    private const ulong DataBase = 0x10_0000;
    private const ulong PathAddress = UserBase + 0x2F00;

    private readonly byte[] _buffer = new byte[64];
    private X86AddressSpace _cached = null!;
    private X86AddressSpace _uncached = null!;

    [GlobalSetup]
    public void Setup()
    {
        var bytes = new byte[0x20_0000];
        var memory = new ArrayGuestMemory(bytes);

        // PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; 64 user pages on frames in reverse order.
        WriteEntry(bytes, Root, UserBase, 39, 0x2000);
        WriteEntry(bytes, 0x2000, UserBase, 30, 0x3000);
        WriteEntry(bytes, 0x3000, UserBase, 21, 0x4000);
        for (var i = 0UL; i < Pages; i++)
        {
            WriteEntry(bytes, 0x4000, UserBase + (i * 0x1000), 12, DataBase + ((Pages - 1 - i) * 0x1000));
        }

        var path = Encoding.UTF8.GetBytes("/usr/lib/x86_64-linux-gnu/libc.6\0"); // 32 characters
        var pathSpace = new X86AddressSpace(memory, Root);
        pathSpace.Write(PathAddress, path);

        _cached = new X86AddressSpace(memory, Root, cache: new TranslationCache());
        _uncached = new X86AddressSpace(memory, Root);
        for (var i = 0UL; i < Pages; i++)
        {
            _cached.Translate(UserBase + (i * 0x1000));
        }

        if (_cached.ReadUtf8String(PathAddress).Length != 32 || _uncached.Translate(UserBase) != DataBase + ((Pages - 1) * 0x1000))
        {
            throw new InvalidOperationException("Benchmark page tables are wrong.");
        }
    }

    [Benchmark]
    public ulong CachedTranslate() => _cached.Translate(UserBase + 0x5123);

    [Benchmark]
    public ulong UncachedWalk4Level() => _uncached.Translate(UserBase + 0x5123);

    [Benchmark]
    public byte Read64Bytes()
    {
        _cached.Read(UserBase + 0x7040, _buffer);
        return _buffer[63];
    }

    [Benchmark]
    public string ReadUtf8Path32Chars() => _cached.ReadUtf8String(PathAddress);

    private static void WriteEntry(byte[] bytes, ulong table, ulong virtualAddress, int shift, ulong target)
    {
        var index = (int)((virtualAddress >> shift) & 0x1FF);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)table + (index * 8)), target | 0x3);
    }
}
