using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Nitro.Reactive.Machinery;

/// <summary>
/// One <c>[section]</c> of an <see cref="IniConfiguration"/>. Keys are case-insensitive. Every getter that
/// fails reports the file, the line, the section and the key in a <see cref="MachineryConfigurationException"/>.
/// </summary>
public sealed class IniSection
{
    private readonly Dictionary<string, Entry> entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> keys = [];

    internal IniSection(string name, string fileName, int lineNumber)
    {
        Name = name;
        FileName = fileName;
        LineNumber = lineNumber;
    }

    /// <summary>Gets the section name, without brackets.</summary>
    public string Name { get; }

    /// <summary>Gets the file the section was read from.</summary>
    public string FileName { get; }

    /// <summary>Gets the 1-based line of the section header.</summary>
    public int LineNumber { get; }

    /// <summary>Gets the keys, in lower case and in file order.</summary>
    public IReadOnlyList<string> Keys => keys;

    /// <summary>Gets the number of keys.</summary>
    public int Count => keys.Count;

    /// <summary>Tells whether the section sets a key.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <returns>Whether the key is present (possibly with an empty value).</returns>
    public bool ContainsKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return entries.ContainsKey(key);
    }

    /// <summary>Gets a value as written (trimmed; continuation lines joined with a line feed).</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <param name="value">The value, when present.</param>
    /// <returns>Whether the key is present.</returns>
    public bool TryGetString(string key, [NotNullWhen(true)] out string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (entries.TryGetValue(key, out var entry))
        {
            value = entry.Value;
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>Gets a required value.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <returns>The value (trimmed; possibly empty).</returns>
    /// <exception cref="MachineryConfigurationException">The key is missing.</exception>
    public string GetString(string key) => TryGetString(key, out var value) ? value : throw Missing(key);

    /// <summary>Gets an optional decimal integer.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <param name="value">The value, when present.</param>
    /// <returns>Whether the key is present.</returns>
    /// <exception cref="MachineryConfigurationException">The key is present but not a 32-bit decimal integer.</exception>
    public bool TryGetInt32(string key, out int value)
    {
        if (!TryGetString(key, out var text))
        {
            value = 0;
            return false;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        throw CreateException(key, $"'{text}' is not an integer; write a decimal number such as 2042.");
    }

    /// <summary>Gets a required decimal integer.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <returns>The value.</returns>
    /// <exception cref="MachineryConfigurationException">The key is missing or not a 32-bit decimal integer.</exception>
    public int GetInt32(string key) => TryGetInt32(key, out var value) ? value : throw Missing(key);

    /// <summary>
    /// Gets an optional boolean written as ConfigParser reads them: <c>1</c>, <c>yes</c>, <c>true</c>, <c>on</c>
    /// or <c>0</c>, <c>no</c>, <c>false</c>, <c>off</c>, in any case.
    /// </summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <param name="value">The value, when present.</param>
    /// <returns>Whether the key is present.</returns>
    /// <exception cref="MachineryConfigurationException">The key is present but not a boolean.</exception>
    public bool TryGetBoolean(string key, out bool value)
    {
        if (!TryGetString(key, out var text))
        {
            value = false;
            return false;
        }

        switch (text.ToLowerInvariant())
        {
            case "1" or "yes" or "true" or "on":
                value = true;
                return true;
            case "0" or "no" or "false" or "off":
                value = false;
                return true;
            default:
                throw CreateException(key, $"'{text}' is not a boolean; write yes/no, true/false, on/off or 1/0.");
        }
    }

    /// <summary>Gets a required boolean (see <see cref="TryGetBoolean"/> for the accepted words).</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <returns>The value.</returns>
    /// <exception cref="MachineryConfigurationException">The key is missing or not a boolean.</exception>
    public bool GetBoolean(string key) => TryGetBoolean(key, out var value) ? value : throw Missing(key);

    /// <summary>Gets an optional comma-separated list; items are trimmed and empty items dropped.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <param name="items">The items, when present (possibly none).</param>
    /// <returns>Whether the key is present.</returns>
    public bool TryGetList(string key, [NotNullWhen(true)] out IReadOnlyList<string>? items)
    {
        if (!TryGetString(key, out var text))
        {
            items = null;
            return false;
        }

        items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return true;
    }

    /// <summary>Gets a required comma-separated list; items are trimmed and empty items dropped.</summary>
    /// <param name="key">The case-insensitive key.</param>
    /// <returns>The items (possibly none).</returns>
    /// <exception cref="MachineryConfigurationException">The key is missing.</exception>
    public IReadOnlyList<string> GetList(string key) => TryGetList(key, out var items) ? items : throw Missing(key);

    /// <summary>
    /// Creates the exception a module throws when a value of this section is unusable, located at the key's
    /// line (or at the section header when the key is absent).
    /// </summary>
    /// <param name="key">The key at fault, or <see langword="null"/> for the section as a whole.</param>
    /// <param name="problem">What is wrong and how to fix it.</param>
    /// <param name="innerException">The failure that revealed the problem, if any.</param>
    /// <returns>The exception, for the caller to throw.</returns>
    public MachineryConfigurationException CreateException(string? key, string problem, Exception? innerException = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        var line = key is not null && entries.TryGetValue(key, out var entry) ? entry.LineNumber : LineNumber;
        return new MachineryConfigurationException(FileName, line, Name, key?.ToLowerInvariant(), problem, innerException);
    }

    internal bool TryGetLineNumber(string key, out int lineNumber)
    {
        var found = entries.TryGetValue(key, out var entry);
        lineNumber = entry.LineNumber;
        return found;
    }

    internal void Add(string key, string value, int lineNumber)
    {
        entries.Add(key, new Entry(value, lineNumber));
        keys.Add(key);
    }

    private MachineryConfigurationException Missing(string key) =>
        CreateException(key, $"required key is missing; add '{key.ToLowerInvariant()} = ...' to [{Name}].");

    private readonly record struct Entry(string Value, int LineNumber);
}
