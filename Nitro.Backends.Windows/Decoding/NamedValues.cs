using System.Globalization;
using System.Text;

namespace Nitro.Backends.Windows.Decoding;

/// <summary>Names a value as a set of bit flags (<c>FILE_READ_DATA|SYNCHRONIZE</c>) or as one of several constants.</summary>
internal sealed class NamedValues
{
    private const int CacheSlots = 64;

    private readonly (uint Value, string Name)[] _entries;

    // The same few combinations recur on every call (FILE_SHARE_READ|FILE_SHARE_WRITE …): keep the
    // text of recent ones. Entries are immutable and replaced whole, so racing threads see one or the other.
    private readonly Formatted?[] _cache = new Formatted?[CacheSlots];
    private readonly (uint Value, string Name)[] _exact;
    private readonly bool _flags;

    private NamedValues((uint, string)[] entries, (uint, string)[] exact, bool flags)
    {
        _entries = entries;
        _exact = exact;
        _flags = flags;
    }

    /// <summary>Bit flags; <paramref name="exact"/> names whole values first (<c>FILE_ALL_ACCESS</c>).</summary>
    public static NamedValues Flags((uint, string)[] bits, params (uint, string)[] exact) => new(bits, exact, flags: true);

    /// <summary>One constant among several.</summary>
    public static NamedValues Enum(params (uint, string)[] values) => new(values, [], flags: false);

    /// <summary>A flag table extended with more bits (the standard rights under specific ones).</summary>
    public NamedValues With(NamedValues more) => new([.. _entries, .. more._entries], [.. _exact, .. more._exact], _flags);

    public string Format(uint value)
    {
        var slot = (int)((value ^ (value >> 16) ^ (value >> 8)) & (CacheSlots - 1));
        if (Volatile.Read(ref _cache[slot]) is { } hit && hit.Value == value)
        {
            return hit.Text;
        }

        var text = Compose(value);
        Volatile.Write(ref _cache[slot], new Formatted(value, text));
        return text;
    }

    private string Compose(uint value)
    {
        foreach (var (v, name) in _exact)
        {
            if (v == value)
            {
                return name;
            }
        }

        if (!_flags)
        {
            foreach (var (v, name) in _entries)
            {
                if (v == value)
                {
                    return name;
                }
            }

            return string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
        }

        if (value == 0)
        {
            return "0";
        }

        var text = new StringBuilder();
        var rest = value;
        foreach (var (bit, name) in _entries)
        {
            if (bit != 0 && (rest & bit) == bit)
            {
                text.Append(text.Length == 0 ? string.Empty : "|").Append(name);
                rest &= ~bit;
            }
        }

        if (rest != 0)
        {
            text.Append(text.Length == 0 ? string.Empty : "|").Append(CultureInfo.InvariantCulture, $"0x{rest:x}");
        }

        return text.ToString();
    }

    private sealed record Formatted(uint Value, string Text);
}
