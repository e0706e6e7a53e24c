using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using Nitro.Backends.Windows.Decoding;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Decoding;

/// <summary>
/// Entry and exit decoding of common Windows NT calls over a real page-table walk (cached
/// translations), shaped like <see cref="LinuxSyscallDecoderBenchmarks"/> so the two can be read
/// side by side: run both with <c>--filter '*SyscallDecoderBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
public class WindowsSyscallDecoderBenchmarks
{
    private const ulong Root = 0x1000;
    private const ulong UserBase = 0x0000_0000_1000_0000;
    private const int Pages = 16;
    private const ulong DataBase = 0x10_0000;

    private readonly WindowsSyscallDecoder _decoder = WindowsSyscallDecoder.Default;
    private X86AddressSpace _space = null!;
    private ArgumentMap _createFile = null!;
    private ArgumentMap _openKey = null!;
    private ArgumentMap _writeFile = null!;
    private ArgumentMap _allocate = null!;
    private ArgumentMap _close = null!;
    private ArgumentMap _createFileBadPointers = null!;
    private readonly Dictionary<ArgumentMap, ulong> _stacks = new(ReferenceEqualityComparer.Instance);

    [GlobalSetup]
    public void Setup()
    {
        var bytes = new byte[0x20_0000];
        var memory = new ArrayGuestMemory(bytes);
        WriteEntry(bytes, Root, UserBase, 39, 0x2000);
        WriteEntry(bytes, 0x2000, UserBase, 30, 0x3000);
        WriteEntry(bytes, 0x3000, UserBase, 21, 0x4000);
        for (var i = 0UL; i < Pages; i++)
        {
            WriteEntry(bytes, 0x4000, UserBase + (i * 0x1000), 12, DataBase + (i * 0x1000));
        }

        _space = new X86AddressSpace(memory, Root, cache: new TranslationCache());
        var fileAttributes = ObjectAttributes(UserBase + 0x100, UserBase + 0x200, @"\??\C:\Users\user\AppData\Local\Temp\dropped.exe");
        var keyAttributes = ObjectAttributes(UserBase + 0x400, UserBase + 0x500, @"\Registry\Machine\Software\Microsoft\Windows\CurrentVersion\Run");
        var handle = UserBase + 0x800;
        var size = UserBase + 0x810;
        Write64(size, 0x10000);
        var buffer = UserBase + 0x4000;
        _space.Write(buffer, new byte[4096]);

        // Stack arguments at rsp + 0x28 + 8·(i − 4), one stack per call: calls that shared one overwrote each
        // other's stack arguments, so NtCreateFile and NtWriteFile decoded bad pointers (see benchmarks/README.md).
        var rsp = UserBase + 0x8000;
        ulong[] createFile = [handle, 0x120089, fileAttributes, UserBase + 0x900, 0, 0x80, 1, 1, 0x60, 0, 0];
        _createFile = Map(rsp, createFile);
        _openKey = Map(rsp + 0x200, [handle, 0x20019, keyAttributes]);
        _writeFile = Map(rsp + 0x400, [0x44, 0, 0, 0, UserBase + 0x900, buffer, 4096, 0, 0]);
        _allocate = Map(rsp + 0x600, [ulong.MaxValue, UserBase + 0x818, 0, size, 0x3000, 0x40]);
        _close = Map(rsp + 0x800, [0x44]);

        // Unmapped pointers everywhere a pointer is followed: ObjectAttributes, AllocationSize.
        _createFileBadPointers = Map(rsp + 0xA00, [handle, 0x120089, 0x3000, UserBase + 0x900, 0x40, 0x80, 1, 1, 0x60, 0, 0]);
        if (_decoder.DecodeEntry("NtCreateFile", _createFile, _space)["ObjectAttributes"] is not string name || !name.EndsWith("dropped.exe", StringComparison.Ordinal)
            || _decoder.DecodeEntry("NtWriteFile", _writeFile, _space)["Buffer"] is not byte[]
            || _decoder.DecodeEntry("NtCreateFile", _createFile, _space)["AllocationSize"] is not null
            || _decoder.DecodeEntry("NtCreateFile", _createFileBadPointers, _space)["ObjectAttributes"] is not Unreadable)
        {
            throw new InvalidOperationException("Benchmark guest memory is wrong.");
        }
    }

    [Benchmark]
    public object NtCreateFile() => _decoder.DecodeEntry("NtCreateFile", _createFile, _space, stackPointer: Rsp(_createFile));

    [Benchmark]
    public object NtCreateFileBadPointers() => _decoder.DecodeEntry("NtCreateFile", _createFileBadPointers, _space, stackPointer: Rsp(_createFileBadPointers));

    [Benchmark]
    public object NtCreateFileSlotBySlot() => _decoder.DecodeEntry("NtCreateFile", _createFile, _space);

    [Benchmark]
    public object NtOpenKey() => _decoder.DecodeEntry("NtOpenKey", _openKey, _space);

    [Benchmark]
    public object NtWriteFile() => _decoder.DecodeEntry("NtWriteFile", _writeFile, _space, stackPointer: Rsp(_writeFile));

    [Benchmark]
    public object NtAllocateVirtualMemory() => _decoder.DecodeEntry("NtAllocateVirtualMemory", _allocate, _space, stackPointer: Rsp(_allocate));

    [Benchmark]
    public object NtClose() => _decoder.DecodeEntry("NtClose", _close, _space);

    [Benchmark]
    public object ExitStatus() => _decoder.DecodeExit("NtCreateFile", 0xC0000034, _createFile, _space);

    [Benchmark]
    public object ExitWithOutputs() => _decoder.DecodeExit("NtAllocateVirtualMemory", 0, _allocate, _space);

    [Benchmark]
    public object UnknownRaw() => _decoder.DecodeEntry("NtUserGetDC", _close, _space, argumentCount: 4);

    private ulong Rsp(ArgumentMap arguments) => _stacks[arguments];

    private ulong ObjectAttributes(ulong at, ulong stringAt, string name)
    {
        var text = Encoding.Unicode.GetBytes(name);
        var unicode = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(unicode, (ushort)text.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(unicode.AsSpan(2), (ushort)(text.Length + 2));
        BinaryPrimitives.WriteUInt64LittleEndian(unicode.AsSpan(8), stringAt + 16);
        _space.Write(stringAt, unicode);
        _space.Write(stringAt + 16, text);
        var attributes = new byte[0x30];
        BinaryPrimitives.WriteUInt32LittleEndian(attributes, 0x30);
        BinaryPrimitives.WriteUInt64LittleEndian(attributes.AsSpan(0x10), stringAt);
        BinaryPrimitives.WriteUInt32LittleEndian(attributes.AsSpan(0x18), 0x40);
        _space.Write(at, attributes);
        return at;
    }

    private void Write64(ulong address, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _space.Write(address, bytes);
    }

    private ArgumentMap Map(ulong rsp, ulong[] a)
    {
        for (var i = 4; i < a.Length; i++)
        {
            Write64(rsp + 0x28 + (ulong)(8 * (i - 4)), a[i]);
        }

        var r = default(Registers);
        r.R10 = a.Length > 0 ? a[0] : 0;
        r.Rdx = a.Length > 1 ? a[1] : 0;
        r.R8 = a.Length > 2 ? a[2] : 0;
        r.R9 = a.Length > 3 ? a[3] : 0;
        r.Rsp = rsp;
        var map = new ArgumentMap(new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, in r, default, 0), CallingConvention.WindowsX64, _space);
        _stacks[map] = rsp;
        return map;
    }

    private static void WriteEntry(byte[] memory, ulong table, ulong virtualAddress, int shift, ulong target)
    {
        var index = (virtualAddress >> shift) & 0x1FF;
        BinaryPrimitives.WriteUInt64LittleEndian(memory.AsSpan((int)(table + (index * 8))), target | 0x7);
    }
}
