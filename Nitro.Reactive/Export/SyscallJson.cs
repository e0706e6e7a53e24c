using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Export;

/// <summary>
/// Writes a <see cref="Syscall"/> as one JSON object compatible with Nitro's <c>Syscall.as_dict()</c>,
/// plus the SDK's extras. The shape, in field order:
/// <code>
/// {"time": "2026-11-22T01:56:12.1234567Z", "direction": "enter", "name": "openat",
///  "full_name": "__x64_sys_openat", "number": 257, "vcpu": 0, "thread_id": 42,
///  "process": {"name": "cat", "pid": 42, "ppid": 1, "tgid": 42} | null,
///  "args": ["0xffffff9c", "0x7ffd0000", ...],
///  "decoded": {"filename": "/etc/shadow"},
///  "modified": [1], "read_late": ["process", "filename"], "return": -2, "duration_ns": 1200,
///  "event": {"vcpu": 0, "type": "syscall", "direction": "enter", "cr3": "0x1234000", "rax": "0x101", "time": "..."}}
/// </code>
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>time</c> is the event's monotonic timestamp converted through a <see cref="TimeOrigin"/>,
/// written in ISO 8601 round-trip form in UTC (seven fractional digits, <c>Z</c>).</item>
/// <item><c>args</c> holds the raw values of the arguments that live in registers, among the first
/// <c>min(CallingConvention.MaxArguments, 6)</c>, as lowercase hexadecimal strings with a <c>0x</c>
/// prefix (as Python's <c>hex()</c>). Guest memory is never read: stack arguments (Windows x64
/// beyond the fourth) are left out, so the array is shorter for such conventions.</item>
/// <item><c>thread_id</c> is written only when known, <c>modified</c> only when arguments were
/// changed, <c>read_late</c> only when a streaming listener's back end read values from guest memory after the
/// vCPU went on (<see cref="Syscall.ReadLate"/>), <c>return</c> only on exits and <c>duration_ns</c> only on exits
/// paired with their entry.</item>
/// <item><c>process</c> holds <c>name</c>, <c>pid</c>, <c>ppid</c> (<c>null</c> when unknown) and then every entry of
/// <see cref="Syscall.Process"/>'s <see cref="Process.Properties"/>, except keys that would repeat those three.</item>
/// <item>Decoded and property values: <see langword="null"/>, strings, booleans and numbers map to their JSON
/// kinds (non-finite floating-point numbers become strings); enums become their name; <see cref="byte"/> arrays and
/// <see cref="ReadOnlyMemory{T}"/> of bytes become standard Base64 strings; <see cref="Unreadable"/> becomes
/// <c>{"unreadable": "0x…", "reason": "…"}</c>; dictionaries become objects (keys as strings) and other sequences
/// arrays (nested at most 8 levels; deeper values are written with <see cref="object.ToString"/>); anything
/// else is written as its <see cref="object.ToString"/> string.</item>
/// <item>Strings from the guest are escaped so that every line is valid JSON: quotes, backslashes and control
/// characters are escaped; other characters of the Basic Multilingual Plane are written as UTF-8, and characters
/// beyond it (emoji) as escaped surrogate pairs. Lone UTF-16 surrogates (which have no UTF-8 form) are replaced
/// with U+FFFD by the encoder.</item>
/// </list>
/// </remarks>
public static class SyscallJson
{
    /// <summary>The writer options used for every line: compact, relaxed escaping (not meant for embedding in HTML).</summary>
    internal static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    private const int MaxValueDepth = 8;
    private const int MaxArgumentsWritten = 6;

    private static readonly JsonEncodedText s_time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText s_direction = JsonEncodedText.Encode("direction");
    private static readonly JsonEncodedText s_name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText s_fullName = JsonEncodedText.Encode("full_name");
    private static readonly JsonEncodedText s_number = JsonEncodedText.Encode("number");
    private static readonly JsonEncodedText s_vcpu = JsonEncodedText.Encode("vcpu");
    private static readonly JsonEncodedText s_threadId = JsonEncodedText.Encode("thread_id");
    private static readonly JsonEncodedText s_process = JsonEncodedText.Encode("process");
    private static readonly JsonEncodedText s_pid = JsonEncodedText.Encode("pid");
    private static readonly JsonEncodedText s_ppid = JsonEncodedText.Encode("ppid");
    private static readonly JsonEncodedText s_args = JsonEncodedText.Encode("args");
    private static readonly JsonEncodedText s_decoded = JsonEncodedText.Encode("decoded");
    private static readonly JsonEncodedText s_readLate = JsonEncodedText.Encode("read_late");
    private static readonly JsonEncodedText s_modified = JsonEncodedText.Encode("modified");
    private static readonly JsonEncodedText s_return = JsonEncodedText.Encode("return");
    private static readonly JsonEncodedText s_durationNs = JsonEncodedText.Encode("duration_ns");
    private static readonly JsonEncodedText s_event = JsonEncodedText.Encode("event");
    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_cr3 = JsonEncodedText.Encode("cr3");
    private static readonly JsonEncodedText s_rax = JsonEncodedText.Encode("rax");
    private static readonly JsonEncodedText s_unreadable = JsonEncodedText.Encode("unreadable");
    private static readonly JsonEncodedText s_reason = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText s_enter = JsonEncodedText.Encode("enter");
    private static readonly JsonEncodedText s_exit = JsonEncodedText.Encode("exit");
    private static readonly JsonEncodedText s_syscall = JsonEncodedText.Encode("syscall");
    private static readonly JsonEncodedText s_sysenter = JsonEncodedText.Encode("sysenter");

    /// <summary>Formats one system call as a single line of JSON (without the trailing newline).</summary>
    /// <param name="syscall">The call to format.</param>
    /// <param name="origin">Converts the event's monotonic timestamp to wall-clock time.</param>
    /// <returns>The JSON object.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="syscall"/> is <see langword="null"/>.</exception>
    public static string ToJson(Syscall syscall, TimeOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(syscall);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, syscall, origin);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes one system call as a JSON object to <paramref name="writer"/>.</summary>
    /// <param name="writer">The destination, positioned where a value may start.</param>
    /// <param name="syscall">The call to write.</param>
    /// <param name="origin">Converts the event's monotonic timestamp to wall-clock time.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static void Write(Utf8JsonWriter writer, Syscall syscall, TimeOrigin origin)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(syscall);
        var @event = syscall.Event;

        Span<byte> time = stackalloc byte[40];
        var timeLength = FormatTime(origin.ToWallClock(@event.Timestamp), time);
        var direction = @event.Direction == SyscallDirection.Exit ? s_exit : s_enter;

        writer.WriteStartObject();
        writer.WriteString(s_time, time[..timeLength]);
        writer.WriteString(s_direction, direction);
        writer.WriteString(s_name, syscall.Name);
        writer.WriteString(s_fullName, syscall.FullName);
        writer.WriteNumber(s_number, syscall.Number);
        writer.WriteNumber(s_vcpu, @event.Vcpu);
        if (syscall.ThreadId is { } threadId)
        {
            writer.WriteNumber(s_threadId, threadId);
        }

        writer.WritePropertyName(s_process);
        WriteProcess(writer, syscall.Process);

        WriteArguments(writer, syscall.Arguments);
        writer.WritePropertyName(s_decoded);
        WriteDictionary(writer, syscall.Decoded, depth: 1);
        WriteModified(writer, syscall.Arguments);
        if (syscall.ReadLate.Count > 0)
        {
            writer.WriteStartArray(s_readLate);
            foreach (var name in syscall.ReadLate)
            {
                writer.WriteStringValue(name);
            }

            writer.WriteEndArray();
        }

        if (syscall.ReturnValue is { } returnValue)
        {
            writer.WriteNumber(s_return, returnValue);
        }

        if (syscall.Entry is { } entry)
        {
            writer.WriteNumber(s_durationNs, syscall.Timestamp - entry.Timestamp);
        }

        WriteEvent(writer, @event, direction, time[..timeLength]);
        writer.WriteEndObject();
    }

    private static void WriteArguments(Utf8JsonWriter writer, ArgumentMap arguments)
    {
        writer.WriteStartArray(s_args);
        var count = Math.Min(arguments.Convention.MaxArguments, MaxArgumentsWritten);
        for (var i = 0; i < count; i++)
        {
            if (arguments.Convention.Locate(i).Kind != ArgumentLocationKind.Register)
            {
                break;
            }

            WriteHexValue(writer, arguments.GetRaw(i));
        }

        writer.WriteEndArray();
    }

    private static void WriteModified(Utf8JsonWriter writer, ArgumentMap arguments)
    {
        var modified = arguments.Modified;
        if (modified.Count == 0)
        {
            return;
        }

        writer.WriteStartArray(s_modified);
        for (var i = 0; i < modified.Count; i++)
        {
            writer.WriteNumberValue(modified[i]);
        }

        writer.WriteEndArray();
    }

    private static void WriteEvent(Utf8JsonWriter writer, NitroEvent @event, JsonEncodedText direction, ReadOnlySpan<byte> time)
    {
        writer.WriteStartObject(s_event);
        writer.WriteNumber(s_vcpu, @event.Vcpu);
        writer.WriteString(s_type, @event.Mechanism == SyscallMechanism.Sysenter ? s_sysenter : s_syscall);
        writer.WriteString(s_direction, direction);
        WriteHex(writer, s_cr3, @event.SpecialRegisters.Cr3);
        WriteHex(writer, s_rax, @event.Registers.Rax);
        writer.WriteString(s_time, time);
        writer.WriteEndObject();
    }

    private static int FormatTime(DateTimeOffset time, Span<byte> destination)
    {
        // "O" on a UTC DateTime: yyyy-MM-ddTHH:mm:ss.fffffffZ, always 28 bytes.
        time.UtcDateTime.TryFormat(destination, out var written, "O", CultureInfo.InvariantCulture);
        return written;
    }

    private static void WriteProcess(Utf8JsonWriter writer, Process? process)
    {
        if (process is null)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStartObject();
        writer.WriteString(s_name, process.Name);
        writer.WriteNumber(s_pid, process.Pid);
        if (process.ParentPid is { } parentPid)
        {
            writer.WriteNumber(s_ppid, parentPid);
        }
        else
        {
            writer.WriteNull(s_ppid);
        }

        if (process.Properties is Dictionary<string, object?> concrete)
        {
            foreach (var pair in concrete)
            {
                WriteProcessProperty(writer, pair.Key, pair.Value);
            }
        }
        else
        {
            foreach (var pair in process.Properties)
            {
                WriteProcessProperty(writer, pair.Key, pair.Value);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteProcessProperty(Utf8JsonWriter writer, string key, object? value)
    {
        if (string.Equals(key, "name", StringComparison.Ordinal)
            || string.Equals(key, "pid", StringComparison.Ordinal)
            || string.Equals(key, "ppid", StringComparison.Ordinal))
        {
            return;
        }

        writer.WritePropertyName(key);
        WriteValue(writer, value, depth: 1);
    }

    private static void WriteDictionary(Utf8JsonWriter writer, IReadOnlyDictionary<string, object?> values, int depth)
    {
        writer.WriteStartObject();
        if (values is Dictionary<string, object?> concrete)
        {
            foreach (var pair in concrete)
            {
                writer.WritePropertyName(pair.Key);
                WriteValue(writer, pair.Value, depth);
            }
        }
        else
        {
            foreach (var pair in values)
            {
                writer.WritePropertyName(pair.Key);
                WriteValue(writer, pair.Value, depth);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteDictionary(Utf8JsonWriter writer, IDictionary values, int depth)
    {
        writer.WriteStartObject();
        var entries = values.GetEnumerator();
        while (entries.MoveNext())
        {
            writer.WritePropertyName(Convert.ToString(entries.Key, CultureInfo.InvariantCulture) ?? string.Empty);
            WriteValue(writer, entries.Value, depth);
        }

        writer.WriteEndObject();
    }

    internal static void WriteValue(Utf8JsonWriter writer, object? value, int depth)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case IConvertible convertible when TryWriteNumber(writer, convertible):
                break;
            case var _ when TryWriteSpecial(writer, value):
                break;
            case IReadOnlyDictionary<string, object?> dictionary when depth < MaxValueDepth:
                WriteDictionary(writer, dictionary, depth + 1);
                break;
            case IDictionary dictionary when depth < MaxValueDepth:
                WriteDictionary(writer, dictionary, depth + 1);
                break;
            case string[] strings:
                writer.WriteStartArray();
                for (var i = 0; i < strings.Length; i++)
                {
                    WriteValue(writer, strings[i], depth + 1);
                }

                writer.WriteEndArray();
                break;
            case IEnumerable sequence when depth < MaxValueDepth:
                writer.WriteStartArray();
                foreach (var item in sequence)
                {
                    WriteValue(writer, item, depth + 1);
                }

                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty);
                break;
        }
    }

    private static bool TryWriteSpecial(Utf8JsonWriter writer, object value)
    {
        switch (value)
        {
            case Enum enumeration:
                writer.WriteStringValue(enumeration.ToString());
                return true;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                return true;
            case ReadOnlyMemory<byte> bytes:
                writer.WriteBase64StringValue(bytes.Span);
                return true;
            case Memory<byte> bytes:
                writer.WriteBase64StringValue(bytes.Span);
                return true;
            case Unreadable unreadable:
                writer.WriteStartObject();
                WriteHex(writer, s_unreadable, unreadable.Address);
                writer.WriteString(s_reason, unreadable.Reason);
                writer.WriteEndObject();
                return true;
            case DateTimeOffset time:
                writer.WriteStringValue(time);
                return true;
            case DateTime time:
                writer.WriteStringValue(time);
                return true;
            case TimeSpan span:
                writer.WriteStringValue(span.ToString("c", CultureInfo.InvariantCulture));
                return true;
            case Guid guid:
                writer.WriteStringValue(guid);
                return true;
            default:
                return false;
        }
    }

    private static bool TryWriteNumber(Utf8JsonWriter writer, IConvertible value)
    {
        switch (value)
        {
            case int number:
                writer.WriteNumberValue(number);
                return true;
            case long number:
                writer.WriteNumberValue(number);
                return true;
            case uint number:
                writer.WriteNumberValue(number);
                return true;
            case ulong number:
                writer.WriteNumberValue(number);
                return true;
            case short number:
                writer.WriteNumberValue(number);
                return true;
            case ushort number:
                writer.WriteNumberValue(number);
                return true;
            case byte number:
                writer.WriteNumberValue(number);
                return true;
            case sbyte number:
                writer.WriteNumberValue(number);
                return true;
            case double number:
                WriteFloatingPoint(writer, number);
                return true;
            case float number:
                WriteFloatingPoint(writer, number);
                return true;
            case decimal number:
                writer.WriteNumberValue(number);
                return true;
            default:
                return false;
        }
    }

    private static void WriteFloatingPoint(Utf8JsonWriter writer, double number)
    {
        if (double.IsFinite(number))
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            writer.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void WriteHex(Utf8JsonWriter writer, JsonEncodedText name, ulong value)
    {
        Span<byte> text = stackalloc byte[18];
        writer.WriteString(name, text[..FormatHex(value, text)]);
    }

    private static void WriteHexValue(Utf8JsonWriter writer, ulong value)
    {
        Span<byte> text = stackalloc byte[18];
        writer.WriteStringValue(text[..FormatHex(value, text)]);
    }

    private static int FormatHex(ulong value, Span<byte> destination)
    {
        destination[0] = (byte)'0';
        destination[1] = (byte)'x';
        value.TryFormat(destination[2..], out var written, "x", CultureInfo.InvariantCulture);
        return written + 2;
    }
}
