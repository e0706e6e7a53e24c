namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>Builds the expected map of a decoding, for whole-map comparison.</summary>
internal static class Decoded
{
    public static Dictionary<string, object?> Of(params (string Key, object? Value)[] entries)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            map.Add(key, value);
        }

        return map;
    }

    /// <summary>Asserts the exact key set and every value (arrays compared element by element).</summary>
    public static void AssertEqual(IReadOnlyDictionary<string, object?> actual, params (string Key, object? Value)[] expected)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual.Keys, Is.EquivalentTo(Of(expected).Keys), "decoded argument names");
            foreach (var (key, value) in expected)
            {
                Assert.That(actual.TryGetValue(key, out var got), Is.True, key);
                Assert.That(got, Is.EqualTo(value), key);
            }
        }
    }
}
