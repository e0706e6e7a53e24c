using System.Globalization;
using System.Runtime.CompilerServices;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>
/// Renders a bit mask as <c>NAME|NAME|0xREST</c>. Entries are tried in order and each match
/// clears its bits, so multi-bit names (O_TMPFILE, MAP_SHARED_VALIDATE) come before their parts.
/// An optional field in the low bits (the open access mode, the clone exit signal, the socket
/// type) is rendered first by its own names.
/// </summary>
internal sealed class FlagTable
{
    private readonly (ulong Mask, string Name)[] _flags;
    private readonly ulong _fieldMask;
    private readonly Func<ulong, string?>? _fieldName;
    private readonly string _zero;

    /// <param name="flags">Names by mask, multi-bit masks first.</param>
    /// <param name="zero">The rendering of 0 when there is no field (such as <c>PROT_NONE</c>, or <c>0</c>).</param>
    /// <param name="fieldMask">The bits of a value field rendered by <paramref name="fieldName"/>, or 0.</param>
    /// <param name="fieldName">Names a field value; <see langword="null"/> renders it in hex. Always called, even for 0.</param>
    /// <param name="wide">The argument is 64 bits wide (clone flags); otherwise only its low 32 bits count, as for a C <c>int</c>.</param>
    public FlagTable((ulong Mask, string Name)[] flags, string zero = "0", ulong fieldMask = 0, Func<ulong, string?>? fieldName = null, bool wide = false)
    {
        Wide = wide;
        _flags = flags;
        _zero = zero;
        _fieldMask = fieldMask;
        _fieldName = fieldName;
    }

    public bool Wide { get; }

    /// <summary>Gets the named masks (for tests that compare them with the C headers).</summary>
    public IReadOnlyList<(ulong Mask, string Name)> Entries => _flags;

    public string Render(ulong value)
    {
        if (value == 0 && _fieldName is null)
        {
            return _zero;
        }

        var builder = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        var first = true;
        if (_fieldName is not null)
        {
            var name = _fieldName(value & _fieldMask);
            if (name is not null && (value & ~_fieldMask) == 0)
            {
                return name;
            }

            AppendField(ref builder, value & _fieldMask, name, ref first);
            value &= ~_fieldMask;
        }

        foreach (var (mask, name) in _flags)
        {
            if ((value & mask) == mask)
            {
                if (!first)
                {
                    builder.AppendLiteral("|");
                }

                builder.AppendLiteral(name);
                first = false;
                value &= ~mask;
                if (value == 0)
                {
                    break;
                }
            }
        }

        if (value != 0)
        {
            if (!first)
            {
                builder.AppendLiteral("|");
            }

            AppendHex(ref builder, value);
            first = false;
        }

        if (first)
        {
            builder.ToStringAndClear();
            return _zero;
        }

        return builder.ToStringAndClear();
    }

    private static void AppendField(ref DefaultInterpolatedStringHandler builder, ulong field, string? name, ref bool first)
    {
        if (name is not null)
        {
            builder.AppendLiteral(name);
            first = false;
        }
        else if (field != 0)
        {
            AppendHex(ref builder, field);
            first = false;
        }
    }

    private static void AppendHex(ref DefaultInterpolatedStringHandler builder, ulong value)
    {
        builder.AppendLiteral("0x");
        builder.AppendFormatted(value, "x");
    }
}
