using System.Globalization;
using System.Text;
using Nitro.Reactive.Events;
using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Output;

/// <summary>A streaming, fixed-width text table of calls: one line per entry or exit.</summary>
internal sealed class SyscallTable : ISyscallSink
{
    private const int MaxDecodedWidth = 120;

    private readonly TextWriter _out;
    private readonly TimeOrigin _origin;
    private readonly StringBuilder _line = new();
    private bool _headerWritten;

    public SyscallTable(TextWriter output, TimeOrigin origin)
    {
        _out = output;
        _origin = origin;
    }

    public void Write(Syscall call)
    {
        if (!_headerWritten)
        {
            _out.WriteLine($"{"time",-15} {"cpu",3} {"dir",-5} {"pid",7} {"process",-16} {"syscall",-20} details");
            _headerWritten = true;
        }

        _line.Clear();
        var time = _origin.ToWallClock(call.Timestamp).ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);
        _line.Append(CultureInfo.InvariantCulture, $"{time,-15} {call.Vcpu,3} {(call.Direction == SyscallDirection.Enter ? "enter" : "exit"),-5} ");
        _line.Append(CultureInfo.InvariantCulture, $"{(call.Process is { } p ? p.Pid.ToString(CultureInfo.InvariantCulture) : "?"),7} {Truncate(call.Process?.Name ?? "?", 16),-16} {Truncate(call.Name, 20),-20} ");
        if (call.Direction == SyscallDirection.Exit)
        {
            _line.Append(CultureInfo.InvariantCulture, $"= {call.ReturnValue} ");
        }

        var details = new StringBuilder();
        foreach (var (key, value) in call.Decoded)
        {
            details.Append(key).Append('=').Append(Render(value)).Append(' ');
        }

        _line.Append(Truncate(details.ToString().TrimEnd(), MaxDecodedWidth));
        _out.WriteLine(_line.ToString().TrimEnd());
    }

    public void Flush() => _out.Flush();

    public void Dispose() => Flush();

    private static string Render(object? value) => value switch
    {
        null => "null",
        string s => "\"" + Sanitize(s) + "\"",
        string[] list => "[" + string.Join(", ", list.Select(s => "\"" + Sanitize(s) + "\"")) + "]",
        byte[] bytes => Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 16))) + (bytes.Length > 16 ? "…" : string.Empty),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    // Guest strings are hostile: never let control characters reach the terminal.
    private static string Sanitize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static string Truncate(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";
}
