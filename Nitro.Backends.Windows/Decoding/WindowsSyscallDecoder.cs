using System.Buffers.Binary;
using System.Globalization;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;

namespace Nitro.Backends.Windows.Decoding;

/// <summary>
/// Decodes the arguments and results of Windows NT system calls by their prototype names:
/// UNICODE_STRING and OBJECT_ATTRIBUTES as strings (<c>\??\C:\Windows\win.ini</c>, with
/// <c>.RootDirectory</c> when relative), handles and pointers as hex strings, ACCESS_MASK, create
/// options, protections and registry types by name (<c>FILE_READ_DATA|SYNCHRONIZE</c>),
/// LARGE_INTEGER and sizes as numbers, CLIENT_ID as <c>.UniqueProcess</c> / <c>.UniqueThread</c>,
/// and on return the NTSTATUS by name with the handles and addresses the call wrote. Values are
/// flat (one key per value) so that they survive the trace format. Every read from the guest is
/// bounded; an unreadable pointer or an inconsistent UNICODE_STRING yields an
/// <see cref="Unreadable"/> marker, never an exception.
/// </summary>
public sealed class WindowsSyscallDecoder
{
    /// <summary>How many bytes of a written buffer are previewed.</summary>
    public const int BufferPreviewBytes = 64;

    private const int RegisterArguments = 4;
    private const int MaxStackArguments = 13;
    private const ulong StackBase = 0x28;

    private static readonly string[] s_rawNames = [.. Enumerable.Range(0, 17).Select(i => string.Create(CultureInfo.InvariantCulture, $"arg{i}"))];

    /// <summary>Gets a shared instance (the decoder holds no per-call state).</summary>
    public static WindowsSyscallDecoder Default { get; } = new();

    /// <summary>Gets the names of the calls decoded argument by argument.</summary>
    public IReadOnlyCollection<string> KnownSyscalls => NtSignatures.All.Keys;

    /// <summary>Decodes the arguments of a call at its entry.</summary>
    /// <param name="name">The call's name (<c>NtCreateFile</c>; an <c>nt!</c> prefix is allowed).</param>
    /// <param name="arguments">The raw arguments (<see cref="CallingConvention.WindowsX64"/>).</param>
    /// <param name="memory">The caller's address space, or <see langword="null"/> (every pointed-to value becomes a marker).</param>
    /// <param name="argumentCount">For calls without a prototype: how many raw arguments to list (from the service table), else the four register arguments.</param>
    /// <returns>The values by name, in argument order.</returns>
    /// <param name="stackPointer">The caller's RSP when known (the event's): stack arguments are then read in one go rather than one by one.</param>
    public IReadOnlyDictionary<string, object?> DecodeEntry(string name, ArgumentMap arguments, IVirtualMemory? memory, int argumentCount = 4, ulong stackPointer = 0)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(arguments);
        var reader = new UserReader(memory);
        if (!NtSignatures.All.TryGetValue(StripModule(name), out var parameters))
        {
            var count = Math.Clamp(argumentCount, 0, Math.Min(s_rawNames.Length, arguments.Convention.MaxArguments));
            var raw = new Dictionary<string, object?>(count, StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                raw[s_rawNames[i]] = Raw(arguments, i, out var value) is { } marker ? marker : Hex(value);
            }

            return raw;
        }

        // One read for all stack arguments (rsp + 0x28 …); slots it could not read fall back to one read each, for the precise marker.
        Span<byte> stack = stackalloc byte[8 * MaxStackArguments];
        var stackCount = Math.Clamp(parameters.Length - RegisterArguments, 0, MaxStackArguments);
        var stackRead = stackPointer != 0 && stackCount > 0 && memory is not null && arguments.CanReadMemory
            ? reader.ReadPartial(stackPointer + StackBase, stack[..(8 * stackCount)]) / 8
            : 0;
        var result = new Dictionary<string, object?>(parameters.Length + 2, StringComparer.Ordinal);
        for (var i = 0; i < parameters.Length; i++)
        {
            if (i >= RegisterArguments && i - RegisterArguments < stackRead)
            {
                DecodeEntryValue(in parameters[i], BinaryPrimitives.ReadUInt64LittleEndian(stack[(8 * (i - RegisterArguments))..]), arguments, in reader, result);
                continue;
            }

            if (Raw(arguments, i, out var value) is { } marker)
            {
                result[parameters[i].Name] = marker;
                continue;
            }

            DecodeEntryValue(in parameters[i], value, arguments, in reader, result);
        }

        return result;
    }

    /// <summary>Decodes the result of a call at its exit, with the handles, addresses and sizes it wrote.</summary>
    /// <param name="name">The call's name.</param>
    /// <param name="returnValue">RAX at the exit.</param>
    /// <param name="entryArguments">The arguments as they were at the entry (output pointers are read from them).</param>
    /// <param name="memory">The caller's address space at the exit, or <see langword="null"/>.</param>
    /// <param name="isNtStatus">Whether the call returns an NTSTATUS (nt table) rather than a value (many win32k calls).</param>
    /// <returns><c>return</c> (hex NTSTATUS, or a number), <c>status</c> (its name) and, on success, the outputs.</returns>
    public IReadOnlyDictionary<string, object?> DecodeExit(string name, ulong returnValue, ArgumentMap entryArguments, IVirtualMemory? memory, bool isNtStatus = true)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(entryArguments);
        var result = new Dictionary<string, object?>(4, StringComparer.Ordinal);
        if (!isNtStatus)
        {
            result["return"] = (long)returnValue;
            return result;
        }

        var status = (uint)returnValue;
        result["return"] = string.Create(CultureInfo.InvariantCulture, $"0x{status:x8}");
        result["status"] = NtStatus.Format(status);
        if (!NtStatus.IsSuccess(status) || !NtSignatures.All.TryGetValue(StripModule(name), out var parameters))
        {
            return result;
        }

        var reader = new UserReader(memory);
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (parameter.Kind is not (NtKind.OutHandle or NtKind.InOutPointer or NtKind.InOutSize or NtKind.OutNamed) || Raw(entryArguments, i, out var pointer) is not null)
            {
                continue;
            }

            if (pointer == 0)
            {
                continue;
            }

            result[parameter.Name] = parameter.Kind switch
            {
                NtKind.OutHandle => reader.TryReadUInt64(pointer, out var handle, out var m1) ? (object)FormatHandle(handle) : m1,
                NtKind.InOutPointer => reader.TryReadUInt64(pointer, out var address, out var m2) ? (object)Hex(address) : m2,
                NtKind.InOutSize => reader.TryReadUInt64(pointer, out var size, out var m3) ? (object)(long)size : m3,
                _ => reader.TryReadUInt64(pointer, out var value, out var m4) ? (object)parameter.Names!.Format((uint)value) : m4,
            };
        }

        return result;
    }

    private static string StripModule(string name)
    {
        var bang = name.IndexOf('!', StringComparison.Ordinal);
        return bang >= 0 ? name[(bang + 1)..] : name;
    }

    /// <summary>The raw value, or the marker of an unreadable stack slot (arguments 4 and up live on the user stack).</summary>
    private static Unreadable? Raw(ArgumentMap arguments, int index, out ulong value)
    {
        value = 0;
        if (index >= arguments.Convention.MaxArguments)
        {
            return new Unreadable(0, "beyond the calling convention");
        }

        var location = arguments.Convention.Locate(index);
        if (location.Kind == ArgumentLocationKind.Stack && !arguments.CanReadMemory)
        {
            return new Unreadable(0, "stack argument without guest memory");
        }

        try
        {
            value = arguments.GetRaw(index);
            return null;
        }
        catch (GuestMemoryException ex)
        {
            return Unreadable.From(ex.Address, ex);
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "A flat dispatch, one case per argument kind.")]
    private static void DecodeEntryValue(in NtParameter parameter, ulong value, ArgumentMap arguments, in UserReader reader, Dictionary<string, object?> result)
    {
        var name = parameter.Name;
        switch (parameter.Kind)
        {
            case NtKind.Handle:
                result[name] = FormatHandle(value);
                break;
            case NtKind.Access:
            case NtKind.Named:
                result[name] = parameter.Names!.Format((uint)value);
                break;
            case NtKind.ObjectAttributes:
                DecodeObjectAttributes(name, value, in reader, result);
                break;
            case NtKind.UnicodeString:
                result[name] = value == 0 ? null : reader.ReadUnicodeString(value);
                break;
            case NtKind.ULong:
                result[name] = (long)(uint)value;
                break;
            case NtKind.Size:
                result[name] = (long)value;
                break;
            case NtKind.Boolean:
                result[name] = (byte)value != 0;
                break;
            case NtKind.Status:
                result[name] = NtStatus.Format((uint)value);
                break;
            case NtKind.LargeInteger:
                result[name] = value == 0 ? null : reader.TryReadUInt64(value, out var large, out var marker) ? (object)(long)large : marker;
                break;
            case NtKind.InOutPointer:
                result[name] = value == 0 ? null : reader.TryReadUInt64(value, out var pointee, out var markerPointer) ? (object)Hex(pointee) : markerPointer;
                break;
            case NtKind.InOutSize:
                result[name] = value == 0 ? null : reader.TryReadUInt64(value, out var size, out var markerSize) ? (object)(long)size : markerSize;
                break;
            case NtKind.ClientId:
                DecodeClientId(name, value, in reader, result);
                break;
            case NtKind.Buffer:
                result[name] = DecodeBuffer(value, arguments, parameter.Aux, in reader);
                break;
            case NtKind.ProcessParameters:
                DecodeProcessParameters(name, value, in reader, result);
                break;
            default:
                // Pointers, output pointers at entry.
                result[name] = Hex(value);
                break;
        }
    }

    private static void DecodeObjectAttributes(string name, ulong address, in UserReader reader, Dictionary<string, object?> result)
    {
        if (address == 0)
        {
            result[name] = null;
            return;
        }

        // OBJECT_ATTRIBUTES (x64, 0x30 bytes): Length, RootDirectory @8, ObjectName @0x10, Attributes @0x18.
        Span<byte> attributes = stackalloc byte[0x20];
        if (reader.TryRead(address, attributes) is { } marker)
        {
            result[name] = marker;
            return;
        }

        var root = BinaryPrimitives.ReadUInt64LittleEndian(attributes[8..]);
        var objectName = BinaryPrimitives.ReadUInt64LittleEndian(attributes[0x10..]);
        result[name] = objectName == 0 ? null : reader.ReadUnicodeString(objectName);
        if (root != 0)
        {
            result[name + ".RootDirectory"] = FormatHandle(root);
        }
    }

    private static void DecodeClientId(string name, ulong address, in UserReader reader, Dictionary<string, object?> result)
    {
        if (address == 0)
        {
            result[name] = null;
            return;
        }

        Span<byte> cid = stackalloc byte[16];
        if (reader.TryRead(address, cid) is { } marker)
        {
            result[name] = marker;
            return;
        }

        result[name + ".UniqueProcess"] = (long)BinaryPrimitives.ReadUInt64LittleEndian(cid);
        result[name + ".UniqueThread"] = (long)BinaryPrimitives.ReadUInt64LittleEndian(cid[8..]);
    }

    private static void DecodeProcessParameters(string name, ulong address, in UserReader reader, Dictionary<string, object?> result)
    {
        if (address == 0)
        {
            result[name] = null;
            return;
        }

        result[name + ".ImagePathName"] = reader.ReadUnicodeString(address + 0x60);
        result[name + ".CommandLine"] = reader.ReadUnicodeString(address + 0x70);
    }

    private static object? DecodeBuffer(ulong address, ArgumentMap arguments, int lengthIndex, in UserReader reader)
    {
        if (address == 0)
        {
            return null;
        }

        var length = Raw(arguments, lengthIndex, out var raw) is null ? (int)Math.Min(raw & 0xFFFF_FFFF, BufferPreviewBytes) : BufferPreviewBytes;
        var bytes = new byte[length];
        var got = reader.ReadPartial(address, bytes);
        return got == 0 && length > 0 ? reader.MarkerFor(address) : got == length ? bytes : bytes[..got];
    }

    private static string FormatHandle(ulong handle) => handle switch
    {
        ulong.MaxValue => "NtCurrentProcess",
        ulong.MaxValue - 1 => "NtCurrentThread",
        _ => Hex(handle),
    };

    private static string Hex(ulong value) => string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
}
