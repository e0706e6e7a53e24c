using System.Buffers.Binary;
using System.Text;
using BenchmarkDotNet.Attributes;
using Nitro.Backends.Linux.Decoding;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Decoding;

/// <summary>Entry and exit decoding of common Linux system calls over a real page-table walk (cached translations).</summary>
[MemoryDiagnoser]
public class LinuxSyscallDecoderBenchmarks
{
    private const ulong Root = 0x1000;
    private const ulong UserBase = 0x0000_7FFF_0000_0000;
    private const int Pages = 16;
    private const ulong DataBase = 0x10_0000;

    private readonly LinuxSyscallDecoder _decoder = LinuxSyscallDecoder.Default;
    private X86AddressSpace _space = null!;
    private ArgumentMap _openat = null!;
    private ArgumentMap _execve = null!;
    private ArgumentMap _mmap = null!;
    private ArgumentMap _connect = null!;
    private ArgumentMap _write = null!;

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
        var path = UserBase + 0x100;
        _space.Write(path, Encoding.UTF8.GetBytes("/usr/lib/x86_64-linux-gnu/libc.so.6\0"));

        // argv: 3 strings, envp: 20 strings.
        var strings = UserBase + 0x2000;
        var argv = UserBase + 0x1000;
        var envp = UserBase + 0x1100;
        var cursor = strings;
        ulong Put(string s)
        {
            var at = cursor;
            _space.Write(at, Encoding.UTF8.GetBytes(s + "\0"));
            cursor += (ulong)s.Length + 1;
            return at;
        }

        Span<byte> pointer = stackalloc byte[8];
        string[] args = ["/bin/sh", "-c", "ls -la /tmp"];
        for (var i = 0; i < args.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(pointer, Put(args[i]));
            _space.Write(argv + (ulong)(8 * i), pointer);
        }

        for (var i = 0; i < 20; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(pointer, Put($"VARIABLE_{i}=value"));
            _space.Write(envp + (ulong)(8 * i), pointer);
        }

        var sockaddr = UserBase + 0x3000;
        _space.Write(sockaddr, [2, 0, 0, 80, 10, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
        var buffer = UserBase + 0x4000;
        _space.Write(buffer, new byte[4096]);

        _openat = Map(unchecked((ulong)-100L), path, 0x80000, 0);
        _execve = Map(path, argv, envp);
        _mmap = Map(0, 0x21000, 3, 0x22, 0xffff_ffff, 0);
        _connect = Map(3, sockaddr, 16);
        _write = Map(1, buffer, 4096);
        if (_decoder.DecodeEntry("execve", _execve, _space)["envc"] is not 20L)
        {
            throw new InvalidOperationException("Benchmark guest memory is wrong.");
        }
    }

    [Benchmark]
    public object Openat() => _decoder.DecodeEntry("openat", _openat, _space);

    [Benchmark]
    public object Execve() => _decoder.DecodeEntry("execve", _execve, _space);

    [Benchmark]
    public object Mmap() => _decoder.DecodeEntry("mmap", _mmap, _space);

    [Benchmark]
    public object Connect() => _decoder.DecodeEntry("connect", _connect, _space);

    [Benchmark]
    public object Write() => _decoder.DecodeEntry("write", _write, _space);

    [Benchmark]
    public object ExitErrno() => _decoder.DecodeExit("openat", -2, _openat, _space);

    [Benchmark]
    public object UnknownWithPrefix() => _decoder.DecodeEntry("__x64_sys_io_uring_enter", _mmap, _space);

    private static ArgumentMap Map(params ulong[] a)
    {
        var r = default(Registers);
        r.Rdi = a.Length > 0 ? a[0] : 0;
        r.Rsi = a.Length > 1 ? a[1] : 0;
        r.Rdx = a.Length > 2 ? a[2] : 0;
        r.R10 = a.Length > 3 ? a[3] : 0;
        r.R8 = a.Length > 4 ? a[4] : 0;
        r.R9 = a.Length > 5 ? a[5] : 0;
        return new ArgumentMap(new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, in r, default, 0), CallingConvention.LinuxX64, null);
    }

    private static void WriteEntry(byte[] memory, ulong table, ulong virtualAddress, int shift, ulong target)
    {
        var index = (virtualAddress >> shift) & 0x1FF;
        BinaryPrimitives.WriteUInt64LittleEndian(memory.AsSpan((int)(table + (index * 8))), target | 0x7);
    }
}
