using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>
/// A read-only map of a few entries (decoded arguments, process properties) kept in one array:
/// a fraction of a <see cref="Dictionary{TKey, TValue}"/>'s allocation, linear lookup by ordinal key.
/// </summary>
internal sealed class SmallMap(KeyValuePair<string, object?>[] entries) : IReadOnlyDictionary<string, object?>
{
    public const int MaxCount = 16;

    private int _immutable; // 0 not known yet, 1 yes, 2 no

    public int Count => entries.Length;

    public IEnumerable<string> Keys => entries.Select(e => e.Key);

    public IEnumerable<object?> Values => entries.Select(e => e.Value);

    public object? this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"No entry '{key}'.");

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out object? value)
    {
        var index = IndexOf(key);
        value = index >= 0 ? entries[index].Value : null;
        return index >= 0;
    }

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)entries).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Gets whether no value can be changed through the map (<see cref="HasOnlyImmutableValues"/>, remembered).</summary>
    public bool IsImmutable
    {
        get
        {
            if (_immutable == 0)
            {
                _immutable = HasOnlyImmutableValues() ? 1 : 2;
            }

            return _immutable == 1;
        }
    }

    /// <summary>Gets whether no value can be changed through the map (no arrays), so that several calls may share it.</summary>
    public bool HasOnlyImmutableValues()
    {
        foreach (var entry in entries)
        {
            if (entry.Value is not (null or string or long or ulong or int or bool or Syscalls.Unreadable))
            {
                return false;
            }
        }

        return true;
    }

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        for (var i = 0; i < entries.Length; i++)
        {
            if (string.Equals(entries[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>Shared boxes for small integers (file descriptors, flags, counts), so decoding them allocates nothing.</summary>
internal static class BoxedIntegers
{
    private const long Min = -128;
    private const long Max = 1023;
    private static readonly object[] s_boxes = Enumerable.Range((int)Min, (int)(Max - Min + 1)).Select(static i => (object)(long)i).ToArray();

    public static object Box(long value) => value is >= Min and <= Max ? s_boxes[value - Min] : value;
}
