using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Globalization;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>
/// Decodes the arguments and results of Linux system calls (x86-64 and ia32) into named values,
/// by system call name. Values are <see cref="long"/> (integers, descriptors, counts),
/// <see cref="string"/> (paths, flag names such as <c>O_RDONLY|O_CLOEXEC</c>, pointers such as
/// <c>0x7ffd1234</c>, modes such as <c>0644</c>, socket addresses such as <c>1.2.3.4:80</c>),
/// <see cref="string"/> arrays (argv), <see cref="byte"/> arrays (the first bytes of a written
/// buffer), <see cref="bool"/> (truncation flags) or <see cref="Unreadable"/> where guest memory
/// could not be read. Every read from the guest is bounded; a hostile pointer or length yields a
/// marker or a truncated value, never an exception.
/// </summary>
/// <remarks>
/// A system call the decoder does not know yields its six raw arguments as hex strings named
/// <c>arg0</c> … <c>arg5</c> at entry, and only <c>return</c> (and <c>errno</c>) at exit. Names may
/// carry a kernel symbol prefix (<c>__x64_sys_openat</c>, <c>sys_openat</c>).
/// </remarks>
public sealed class LinuxSyscallDecoder
{
    /// <summary>The bound of a path or of one argv string, in bytes (<c>PATH_MAX</c>).</summary>
    public const int MaxStringBytes = 4096;

    /// <summary>How many bytes of a written buffer are previewed.</summary>
    public const int BufferPreviewBytes = 64;

    /// <summary>The most argv entries decoded; more sets <c>argv_truncated</c>.</summary>
    public const int MaxArgvEntries = 256;

    /// <summary>The most argv string bytes decoded in total; more sets <c>argv_truncated</c>.</summary>
    public const int MaxArgvTotalBytes = 32 * 1024;

    /// <summary>The most envp entries counted; more sets <c>envc_truncated</c>.</summary>
    public const int MaxEnvpEntries = 4096;

    /// <summary>The most bytes of a <c>struct sockaddr</c> read, whatever its length argument says.</summary>
    public const int MaxSocketAddressBytes = 128;

    private const int OpenHowSize = 24;
    private const int CloneArgsSize = 88;

    // Descriptors, small counts and statuses repeat on every call: box them once.
    private static readonly object[] s_smallBoxes = BuildSmallBoxes();

    private static readonly string[] s_rawNames = ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5"];
    private static readonly string[] s_prefixes = ["__ia32_compat_sys_", "__x64_sys_", "__ia32_sys_", "__se_sys_", "__do_sys_", "compat_sys_", "sys_"];

    private static readonly FrozenDictionary<string, SyscallSignature>.AlternateLookup<ReadOnlySpan<char>> s_x64Lookup =
        LinuxSyscallSignatures.X64.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly FrozenDictionary<string, SyscallSignature>.AlternateLookup<ReadOnlySpan<char>> s_ia32Lookup =
        LinuxSyscallSignatures.Ia32.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Gets a shared instance (the decoder holds no per-call state).</summary>
    public static LinuxSyscallDecoder Default { get; } = new();

    /// <summary>Gets the names of the system calls decoded for x86-64 callers.</summary>
    public IReadOnlyCollection<string> KnownSyscalls => LinuxSyscallSignatures.X64.Keys;

    /// <summary>Tells whether <paramref name="name"/> (a prefix such as <c>__x64_sys_</c> allowed) has named arguments.</summary>
    /// <param name="name">The system call name.</param>
    /// <param name="convention">The caller's convention (ia32 differs for a few calls); x86-64 when <see langword="null"/>.</param>
    /// <returns><see langword="true"/> when the call is decoded argument by argument.</returns>
    public bool IsKnown(string name, CallingConvention? convention = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Find(name, IsIa32(convention)) is not null;
    }

    /// <summary>Decodes the arguments of a system call at its entry.</summary>
    /// <param name="name">The system call name, such as <c>openat</c>.</param>
    /// <param name="arguments">The raw arguments (<see cref="CallingConvention.LinuxX64"/> or <see cref="CallingConvention.LinuxIa32"/>).</param>
    /// <param name="memory">The caller's address space, for strings and structures; <see langword="null"/> for recorded events, which turns every pointed-to value into an <see cref="Unreadable"/>.</param>
    /// <returns>The values by argument name, in argument order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="arguments"/> is <see langword="null"/>.</exception>
    public IReadOnlyDictionary<string, object?> DecodeEntry(string name, ArgumentMap arguments, IVirtualMemory? memory)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(arguments);
        var width = arguments.Convention.Locate(0).Width;
        var signature = Find(name, IsIa32(arguments.Convention));
        if (signature is null)
        {
            var count = Math.Min(s_rawNames.Length, arguments.Convention.MaxArguments);
            var raw = new Dictionary<string, object?>(count, StringComparer.Ordinal);
            for (var i = 0; i < count && arguments.Convention.Locate(i).Kind == ArgumentLocationKind.Register; i++)
            {
                raw[s_rawNames[i]] = Hex(arguments.GetRaw(i));
            }

            return raw;
        }

        var reader = new GuestReader(memory, width);
        var parameters = signature.Parameters;
        var result = new Dictionary<string, object?>(parameters.Length + 2, StringComparer.Ordinal);
        for (var i = 0; i < parameters.Length; i++)
        {
            DecodeParameter(in parameters[i], arguments, in reader, result);
        }

        return result;
    }

    /// <summary>Decodes the result of a system call at its exit, with the outputs it wrote (a peer address, pipe descriptors, a wait status).</summary>
    /// <param name="name">The system call name.</param>
    /// <param name="returnValue">The raw return value (RAX; for ia32 only its low 32 bits count).</param>
    /// <param name="entryArguments">The arguments as they were at the entry (output pointers are read from them).</param>
    /// <param name="memory">The caller's address space at the exit, or <see langword="null"/>.</param>
    /// <returns><c>return</c> (a <see cref="long"/>, or a hex string for calls that return an address), <c>errno</c> (a name such as <c>ENOENT</c>) when the call failed, and any outputs.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="entryArguments"/> is <see langword="null"/>.</exception>
    public IReadOnlyDictionary<string, object?> DecodeExit(string name, long returnValue, ArgumentMap entryArguments, IVirtualMemory? memory)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(entryArguments);
        var width = entryArguments.Convention.Locate(0).Width;
        var value = width == 4 ? (int)returnValue : returnValue;
        var signature = Find(name, IsIa32(entryArguments.Convention));
        var result = new Dictionary<string, object?>(3, StringComparer.Ordinal);
        if (LinuxErrno.IsError(value))
        {
            result["return"] = Box(value);
            result["errno"] = LinuxErrno.Format((int)-value);
            return result;
        }

        if (signature is null)
        {
            result["return"] = Box(value);
            return result;
        }

        result["return"] = signature.Returns == ReturnKind.Address
            ? Hex(width == 4 ? (uint)value : (ulong)value)
            : Box(value);
        var reader = new GuestReader(memory, width);
        switch (signature.ExitOutput)
        {
            case ExitOutput.PeerAddress:
                DecodePeerAddress(entryArguments, in reader, result);
                break;
            case ExitOutput.PipeFds:
                DecodePipeFds(entryArguments.GetRaw(0), in reader, result);
                break;
            case ExitOutput.WaitStatus when value > 0:
                DecodeWaitStatus(entryArguments.GetRaw(1), in reader, result);
                break;
            default:
                break;
        }

        return result;
    }

    /// <summary>
    /// Names the values of a decoded call that were read from guest memory: on entry the strings,
    /// buffers and structures arguments point to, on exit every output (all but <c>return</c> and
    /// <c>errno</c>); never a value taken from a register.
    /// </summary>
    /// <param name="name">The system call name.</param>
    /// <param name="convention">The calling convention (ia32 calls have their own signatures).</param>
    /// <param name="direction">Entry or exit.</param>
    /// <param name="decoded">What <see cref="DecodeEntry"/> or <see cref="DecodeExit"/> returned.</param>
    /// <returns>The names, in decoding order.</returns>
    public static IReadOnlyList<string> ValuesFromMemory(string name, CallingConvention? convention, SyscallDirection direction, IReadOnlyDictionary<string, object?> decoded)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(decoded);
        if (direction == SyscallDirection.Exit)
        {
            return [.. decoded.Keys.Where(k => k is not ("return" or "errno"))];
        }

        return Find(name, IsIa32(convention)) is { } signature
            ? [.. signature.Parameters.Where(p => ReadsMemory(p.Kind) && decoded.ContainsKey(p.Name)).Select(p => p.Name)]
            : [];
    }

    private static bool ReadsMemory(ArgumentKind kind) => kind is ArgumentKind.Path or ArgumentKind.SocketAddress or ArgumentKind.StringArray
        or ArgumentKind.StringArrayCount or ArgumentKind.BufferPreview or ArgumentKind.OpenHow or ArgumentKind.CloneArgs or ArgumentKind.OldMmapArgs;

    private static bool IsIa32(CallingConvention? convention) => ReferenceEquals(convention, CallingConvention.LinuxIa32);

    private static SyscallSignature? Find(string name, bool ia32)
    {
        var table = ia32 ? LinuxSyscallSignatures.Ia32 : LinuxSyscallSignatures.X64;
        if (table.TryGetValue(name, out var signature))
        {
            return signature;
        }

        foreach (var prefix in s_prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                var lookup = ia32 ? s_ia32Lookup : s_x64Lookup;
                return lookup.TryGetValue(name.AsSpan(prefix.Length), out signature) ? signature : null;
            }
        }

        return null;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "A flat dispatch, one case per argument kind.")]
    private static void DecodeParameter(in Parameter parameter, ArgumentMap arguments, in GuestReader reader, Dictionary<string, object?> result)
    {
        var raw = arguments.GetRaw(parameter.Index);
        var name = parameter.Name;
        switch (parameter.Kind)
        {
            case ArgumentKind.Int:
                result[name] = Box((int)raw);
                break;
            case ArgumentKind.Long:
                result[name] = Box(reader.PointerWidth == 4 ? (int)raw : (long)raw);
                break;
            case ArgumentKind.SplitLong:
                result[name] = Box((long)(((ulong)(uint)arguments.GetRaw(parameter.Aux) << 32) | (uint)raw));
                break;
            case ArgumentKind.Size:
                result[name] = Box((long)raw);
                break;
            case ArgumentKind.Pointer:
            case ArgumentKind.Hex:
                result[name] = Hex(raw);
                break;
            case ArgumentKind.DirFd:
                result[name] = DirFd(raw);
                break;
            case ArgumentKind.Path:
                result[name] = reader.ReadString(raw, MaxStringBytes);
                break;
            case ArgumentKind.Mode:
                result[name] = Octal((uint)raw);
                break;
            case ArgumentKind.Signal:
                result[name] = LinuxSignals.Format((int)raw);
                break;
            case ArgumentKind.Flags:
                var table = parameter.Flags!;
                result[name] = table.Render(table.Wide ? raw : (uint)raw);
                break;
            case ArgumentKind.SocketFamily:
                result[name] = LinuxFlags.SocketFamily((int)raw);
                break;
            case ArgumentKind.SocketProtocol:
                result[name] = LinuxFlags.SocketProtocol((int)arguments.GetRaw(parameter.Aux), (int)raw);
                break;
            case ArgumentKind.SocketAddress:
                result[name] = raw == 0 ? null : ReadSocketAddress(raw, (uint)arguments.GetRaw(parameter.Aux), in reader);
                break;
            case ArgumentKind.StringArray:
                ReadStringArray(raw, name, in reader, result);
                break;
            case ArgumentKind.StringArrayCount:
                CountStringArray(raw, name, in reader, result);
                break;
            case ArgumentKind.BufferPreview:
                result[name] = ReadPreview(raw, arguments.GetRaw(parameter.Aux), in reader);
                break;
            case ArgumentKind.OpenHow:
                ReadOpenHow(raw, arguments.GetRaw(parameter.Aux), name, in reader, result);
                break;
            case ArgumentKind.CloneArgs:
                ReadCloneArgs(raw, arguments.GetRaw(parameter.Aux), name, in reader, result);
                break;
            case ArgumentKind.OldMmapArgs:
                ReadOldMmapArgs(raw, name, in reader, result);
                break;
            case ArgumentKind.FcntlCommand:
                result[name] = LinuxFlags.FcntlCommand((int)raw);
                break;
            case ArgumentKind.Whence:
                result[name] = LinuxFlags.Whence((int)raw);
                break;
            default:
                result[name] = Hex(raw);
                break;
        }
    }

    private static object DirFd(ulong raw) => (int)raw == LinuxFlags.AtFdCwd ? "AT_FDCWD" : Box((int)raw);

    private static object Box(long value) => (ulong)(value + 1) < (ulong)s_smallBoxes.Length ? s_smallBoxes[value + 1] : value;

    private static object[] BuildSmallBoxes()
    {
        var boxes = new object[1 + 1024];
        for (var i = 0; i < boxes.Length; i++)
        {
            boxes[i] = (long)(i - 1);
        }

        return boxes;
    }

    private static object ReadSocketAddress(ulong address, uint length, in GuestReader reader)
    {
        var bounded = (int)Math.Min(length, MaxSocketAddressBytes);
        Span<byte> bytes = stackalloc byte[MaxSocketAddressBytes];
        var got = reader.ReadPartial(address, bytes[..bounded]);
        if (got == 0 && bounded > 0)
        {
            return reader.MarkerFor(address);
        }

        return SocketAddressFormatter.Format(bytes[..got]);
    }

    private static object ReadPreview(ulong address, ulong count, in GuestReader reader)
    {
        var length = (int)Math.Min(count, BufferPreviewBytes);
        if (length == 0)
        {
            return Array.Empty<byte>();
        }

        Span<byte> bytes = stackalloc byte[BufferPreviewBytes];
        var got = reader.ReadPartial(address, bytes[..length]);
        return got == 0 ? reader.MarkerFor(address) : bytes[..got].ToArray();
    }

    private static void ReadStringArray(ulong array, string name, in GuestReader reader, Dictionary<string, object?> result)
    {
        if (array == 0)
        {
            // Linux accepts a NULL argv as an empty one.
            result[name] = Array.Empty<string>();
            return;
        }

        Span<byte> chunk = stackalloc byte[512];
        var entries = new List<string>();
        var remaining = MaxArgvTotalBytes;
        var cursor = array;
        bool truncated;
        while (true)
        {
            var got = ReadPointerChunk(cursor, chunk, in reader);
            var count = got / reader.PointerWidth;
            if (count == 0)
            {
                if (cursor == array)
                {
                    result[name] = reader.MarkerFor(array);
                    return;
                }

                truncated = true;
                break;
            }

            if (ReadStrings(chunk[..got], in reader, entries, ref remaining, out truncated))
            {
                break;
            }

            cursor += (ulong)(count * reader.PointerWidth);
        }

        result[name] = entries.ToArray();
        if (truncated)
        {
            result[name + "_truncated"] = true;
        }
    }

    /// <summary>Reads the strings of one chunk of pointers; true when the array ended (NULL or a bound).</summary>
    private static bool ReadStrings(ReadOnlySpan<byte> chunk, in GuestReader reader, List<string> entries, ref int remaining, out bool truncated)
    {
        truncated = false;
        var width = reader.PointerWidth;
        for (var i = 0; i < chunk.Length / width; i++)
        {
            var pointer = ReadPointer(chunk, i, width);
            if (pointer == 0)
            {
                return true;
            }

            if (entries.Count >= MaxArgvEntries || remaining <= 0)
            {
                truncated = true;
                return true;
            }

            var text = reader.ReadString(pointer, Math.Min(MaxStringBytes, remaining)) as string ?? "<unreadable>";
            entries.Add(text);
            remaining -= text.Length + 1;
        }

        return false;
    }

    private static void CountStringArray(ulong array, string name, in GuestReader reader, Dictionary<string, object?> result)
    {
        if (array == 0)
        {
            result[name] = 0L;
            return;
        }

        var width = reader.PointerWidth;
        Span<byte> chunk = stackalloc byte[512];
        var entries = 0L;
        var cursor = array;
        while (true)
        {
            var got = ReadPointerChunk(cursor, chunk, in reader);
            var count = got / width;
            if (count == 0)
            {
                if (cursor == array)
                {
                    result[name] = reader.MarkerFor(array);
                    return;
                }

                result[name] = entries;
                result[name + "_truncated"] = true;
                return;
            }

            for (var i = 0; i < count; i++)
            {
                if (ReadPointer(chunk, i, width) == 0)
                {
                    result[name] = entries;
                    return;
                }

                if (++entries >= MaxEnvpEntries)
                {
                    result[name] = entries;
                    result[name + "_truncated"] = true;
                    return;
                }
            }

            cursor += (ulong)(count * width);
        }
    }

    /// <summary>Reads pointers up to the end of the page, so an unmapped next page ends the array cleanly.</summary>
    private static int ReadPointerChunk(ulong cursor, Span<byte> chunk, in GuestReader reader)
    {
        var toPageEnd = (int)(0x1000 - (cursor & 0xFFF));
        var want = Math.Max(Math.Min(chunk.Length, toPageEnd), reader.PointerWidth);
        want -= want % reader.PointerWidth;
        return reader.ReadPartial(cursor, chunk[..want]);
    }

    private static ulong ReadPointer(ReadOnlySpan<byte> chunk, int index, int width) => width == 8
        ? BinaryPrimitives.ReadUInt64LittleEndian(chunk[(index * 8)..])
        : BinaryPrimitives.ReadUInt32LittleEndian(chunk[(index * 4)..]);

    private static void ReadOpenHow(ulong address, ulong size, string name, in GuestReader reader, Dictionary<string, object?> result)
    {
        Span<byte> how = stackalloc byte[OpenHowSize];
        var length = (int)Math.Min(size, OpenHowSize);
        if (reader.TryRead(address, how[..length]) is { } failure)
        {
            result[name] = failure;
            return;
        }

        if (length >= 8)
        {
            result["flags"] = LinuxFlags.Open.Render(BinaryPrimitives.ReadUInt64LittleEndian(how));
        }

        if (length >= 16)
        {
            result["mode"] = Octal(BinaryPrimitives.ReadUInt64LittleEndian(how[8..]));
        }

        if (length >= 24)
        {
            result["resolve"] = LinuxFlags.Resolve.Render(BinaryPrimitives.ReadUInt64LittleEndian(how[16..]));
        }
    }

    private static void ReadCloneArgs(ulong address, ulong size, string name, in GuestReader reader, Dictionary<string, object?> result)
    {
        Span<byte> args = stackalloc byte[CloneArgsSize];
        var length = (int)Math.Min(size, CloneArgsSize);
        var got = reader.ReadPartial(address, args[..length]);
        if (got == 0 && length > 0)
        {
            result[name] = reader.MarkerFor(address);
            return;
        }

        args = args[..got];
        if (got < length)
        {
            result[name + "_truncated"] = true;
        }

        if (got >= 8)
        {
            result["flags"] = LinuxFlags.Clone3.Render(BinaryPrimitives.ReadUInt64LittleEndian(args));
        }

        if (got >= 40)
        {
            result["pidfd"] = Hex(BinaryPrimitives.ReadUInt64LittleEndian(args[8..]));
            result["child_tid"] = Hex(BinaryPrimitives.ReadUInt64LittleEndian(args[16..]));
            result["parent_tid"] = Hex(BinaryPrimitives.ReadUInt64LittleEndian(args[24..]));
            var signal = BinaryPrimitives.ReadUInt64LittleEndian(args[32..]);
            result["exit_signal"] = signal <= int.MaxValue ? LinuxSignals.Format((int)signal) : Hex(signal);
        }

        if (got >= 64)
        {
            result["stack"] = Hex(BinaryPrimitives.ReadUInt64LittleEndian(args[40..]));
            result["stack_size"] = (long)BinaryPrimitives.ReadUInt64LittleEndian(args[48..]);
            result["tls"] = Hex(BinaryPrimitives.ReadUInt64LittleEndian(args[56..]));
        }

        if (got >= 80)
        {
            result["set_tid_size"] = (long)BinaryPrimitives.ReadUInt64LittleEndian(args[72..]);
        }

        if (got >= 88)
        {
            result["cgroup"] = (long)BinaryPrimitives.ReadUInt64LittleEndian(args[80..]);
        }
    }

    private static void ReadOldMmapArgs(ulong address, string name, in GuestReader reader, Dictionary<string, object?> result)
    {
        Span<byte> args = stackalloc byte[24];
        if (reader.TryRead(address, args) is { } failure)
        {
            result[name] = failure;
            return;
        }

        result["addr"] = Hex(BinaryPrimitives.ReadUInt32LittleEndian(args));
        result["length"] = (long)BinaryPrimitives.ReadUInt32LittleEndian(args[4..]);
        result["prot"] = LinuxFlags.Prot.Render(BinaryPrimitives.ReadUInt32LittleEndian(args[8..]));
        result["flags"] = LinuxFlags.Map.Render(BinaryPrimitives.ReadUInt32LittleEndian(args[12..]));
        result["fd"] = (long)BinaryPrimitives.ReadInt32LittleEndian(args[16..]);
        result["offset"] = (long)BinaryPrimitives.ReadUInt32LittleEndian(args[20..]);
    }

    private static void DecodePeerAddress(ArgumentMap arguments, in GuestReader reader, Dictionary<string, object?> result)
    {
        var address = arguments.GetRaw(1);
        var lengthPointer = arguments.GetRaw(2);
        if (address == 0 || lengthPointer == 0)
        {
            return;
        }

        Span<byte> length = stackalloc byte[4];
        if (reader.TryRead(lengthPointer, length) is { } failure)
        {
            result["addr"] = failure;
            return;
        }

        var value = BinaryPrimitives.ReadUInt32LittleEndian(length);
        result["addr"] = ReadSocketAddress(address, value, in reader);
        result["addrlen"] = (long)value;
    }

    private static void DecodePipeFds(ulong address, in GuestReader reader, Dictionary<string, object?> result)
    {
        Span<byte> fds = stackalloc byte[8];
        if (reader.TryRead(address, fds) is { } failure)
        {
            result["pipefd"] = failure;
            return;
        }

        result["read_fd"] = (long)BinaryPrimitives.ReadInt32LittleEndian(fds);
        result["write_fd"] = (long)BinaryPrimitives.ReadInt32LittleEndian(fds[4..]);
    }

    private static void DecodeWaitStatus(ulong address, in GuestReader reader, Dictionary<string, object?> result)
    {
        if (address == 0)
        {
            return;
        }

        Span<byte> word = stackalloc byte[4];
        if (reader.TryRead(address, word) is { } failure)
        {
            result["wstatus"] = failure;
            return;
        }

        result["wstatus"] = FormatWaitStatus(BinaryPrimitives.ReadInt32LittleEndian(word));
    }

    internal static string FormatWaitStatus(int status)
    {
        var low = status & 0x7F;
        var high = (status >> 8) & 0xFF;
        if (low == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"exited {high}");
        }

        if ((status & 0xFF) == 0x7F)
        {
            return "stopped " + LinuxSignals.Format(high);
        }

        if (status == 0xFFFF)
        {
            return "continued";
        }

        return "killed " + LinuxSignals.Format(low) + ((status & 0x80) != 0 ? " (core dumped)" : string.Empty);
    }

    internal static string Hex(ulong value) => value == 0 ? "0x0" : string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");

    /// <summary>A mode in octal with a leading zero and at least three digits: <c>0644</c>, <c>04755</c>, <c>0000</c>.</summary>
    internal static string Octal(ulong mode)
    {
        Span<char> digits = stackalloc char[24];
        var position = digits.Length;
        do
        {
            digits[--position] = (char)('0' + (int)(mode & 7));
            mode >>= 3;
        }
        while (mode != 0);

        while (digits.Length - position < 3)
        {
            digits[--position] = '0';
        }

        digits[--position] = '0';
        return new string(digits[position..]);
    }
}
