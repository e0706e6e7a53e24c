using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Nitro.Reactive.Machinery;

/// <summary>
/// An INI file as sandbox operators already write them for Cuckoo and CAPE (<c>conf/&lt;module&gt;.conf</c>),
/// read with the rules of Python's <c>ConfigParser</c> defaults:
/// <list type="bullet">
/// <item><c>[section]</c> headers; section names are case-sensitive and may not repeat.</item>
/// <item><c>key = value</c> or <c>key: value</c> (the first <c>=</c> or <c>:</c> splits); keys are
/// case-insensitive (reported in lower case) and may not repeat within a section; values are trimmed.</item>
/// <item>Lines whose first non-blank character is <c>#</c> or <c>;</c> are comments. Inline comments are
/// <em>not</em> stripped: in <c>ip = 10.0.0.1 ; lab</c> the value is <c>10.0.0.1 ; lab</c>, as in ConfigParser.</item>
/// <item>A line indented deeper than its key continues the value (joined with a line feed); a comment line
/// ends the value; blank lines inside a value are kept, trailing ones dropped.</item>
/// </list>
/// <c>%(name)s</c> interpolation and the <c>[DEFAULT]</c> section's inheritance are not supported:
/// such text is kept verbatim and <c>[DEFAULT]</c> is an ordinary section.
/// </summary>
public sealed class IniConfiguration
{
    private readonly Dictionary<string, IniSection> byName;

    private IniConfiguration(string fileName, List<IniSection> sections, Dictionary<string, IniSection> byName)
    {
        FileName = fileName;
        Sections = sections;
        this.byName = byName;
    }

    /// <summary>Gets the file name used in error messages.</summary>
    public string FileName { get; }

    /// <summary>Gets the sections in file order.</summary>
    public IReadOnlyList<IniSection> Sections { get; }

    /// <summary>Reads and parses a configuration file.</summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The parsed configuration.</returns>
    /// <exception cref="MachineryConfigurationException">The file cannot be read or is malformed.</exception>
    public static IniConfiguration Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            var problem = exception is FileNotFoundException or DirectoryNotFoundException
                ? "the configuration file does not exist; create it (see the module's example configuration) or point the machinery at the right directory."
                : $"the configuration file cannot be read: {exception.Message}";
            throw new MachineryConfigurationException(path, 0, null, null, problem, exception);
        }

        return Parse(text, path);
    }

    /// <summary>Parses configuration text.</summary>
    /// <param name="text">The INI text.</param>
    /// <param name="fileName">The file name to use in error messages.</param>
    /// <returns>The parsed configuration.</returns>
    /// <exception cref="MachineryConfigurationException">
    /// The text is malformed: a key outside any section, a line without <c>=</c> or <c>:</c>, an empty key,
    /// a malformed or duplicate section header, a duplicate key, or a continuation line with nothing to continue.
    /// </exception>
    public static IniConfiguration Parse(string text, string fileName)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);

        var reader = new Reader(fileName);
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            reader.ReadLine(line.TrimEnd('\r'), ++lineNumber);
        }

        reader.EndValue();
        return new IniConfiguration(fileName, reader.Sections, reader.ByName);
    }

    /// <summary>Looks a section up by its case-sensitive name.</summary>
    /// <param name="name">The section name, without brackets.</param>
    /// <param name="section">The section, when found.</param>
    /// <returns>Whether the section exists.</returns>
    public bool TryGetSection(string name, [NotNullWhen(true)] out IniSection? section)
    {
        ArgumentNullException.ThrowIfNull(name);
        return byName.TryGetValue(name, out section);
    }

    /// <summary>Gets a section by its case-sensitive name.</summary>
    /// <param name="name">The section name, without brackets.</param>
    /// <returns>The section.</returns>
    /// <exception cref="MachineryConfigurationException">The file has no such section.</exception>
    public IniSection GetSection(string name)
    {
        if (TryGetSection(name, out var section))
        {
            return section;
        }

        throw new MachineryConfigurationException(FileName, 0, name, null, $"the section is missing; add a '[{name}]' section.");
    }

    /// <summary>The parser's state between lines.</summary>
    private sealed class Reader(string fileName)
    {
        private readonly StringBuilder value = new();
        private IniSection? section;
        private string? key;
        private int keyLine;
        private int keyIndent;
        private int pendingBlankLines;

        public List<IniSection> Sections { get; } = [];

        public Dictionary<string, IniSection> ByName { get; } = new(StringComparer.Ordinal);

        public void ReadLine(string line, int lineNumber)
        {
            var trimmed = line.Trim();
            if (trimmed.Length == 0)
            {
                pendingBlankLines++;
                return;
            }

            if (trimmed[0] is '#' or ';')
            {
                EndValue();
                return;
            }

            var indent = line.Length - line.TrimStart().Length;
            if (key is not null && indent > keyIndent)
            {
                value.Append('\n', pendingBlankLines + 1).Append(trimmed);
                pendingBlankLines = 0;
                return;
            }

            EndValue();
            if (trimmed[0] == '[')
            {
                ReadHeader(trimmed, lineNumber);
            }
            else
            {
                ReadKey(trimmed, indent, lineNumber);
            }
        }

        public void EndValue()
        {
            if (key is not null)
            {
                section!.Add(key, value.ToString(), keyLine);
                key = null;
            }

            value.Clear();
            pendingBlankLines = 0;
        }

        private void ReadHeader(string trimmed, int lineNumber)
        {
            if (trimmed[^1] != ']' || trimmed.Length < 3)
            {
                throw new MachineryConfigurationException(fileName, lineNumber, null, null, $"malformed section header '{trimmed}'; write '[name]'.");
            }

            var name = trimmed[1..^1];
            if (ByName.TryGetValue(name, out var existing))
            {
                throw new MachineryConfigurationException(fileName, lineNumber, name, null, $"duplicate section (first defined on line {existing.LineNumber}); merge the two.");
            }

            section = new IniSection(name, fileName, lineNumber);
            Sections.Add(section);
            ByName.Add(name, section);
        }

        private void ReadKey(string trimmed, int indent, int lineNumber)
        {
            var delimiter = trimmed.AsSpan().IndexOfAny('=', ':');
            if (delimiter < 0)
            {
                throw new MachineryConfigurationException(fileName, lineNumber, section?.Name, null, $"missing '=' in '{trimmed}'; write 'key = value'.");
            }

            var option = trimmed[..delimiter].TrimEnd().ToLowerInvariant();
            if (option.Length == 0)
            {
                throw new MachineryConfigurationException(fileName, lineNumber, section?.Name, null, $"missing key before '{trimmed[delimiter]}' in '{trimmed}'.");
            }

            if (section is null)
            {
                throw new MachineryConfigurationException(fileName, lineNumber, null, option, "key outside any section; put a '[section]' header above it.");
            }

            if (section.TryGetLineNumber(option, out var firstLine))
            {
                throw new MachineryConfigurationException(fileName, lineNumber, section.Name, option, $"duplicate key (first set on line {firstLine}); keep one.");
            }

            key = option;
            keyLine = lineNumber;
            keyIndent = indent;
            value.Append(trimmed.AsSpan(delimiter + 1).Trim());
        }
    }
}
