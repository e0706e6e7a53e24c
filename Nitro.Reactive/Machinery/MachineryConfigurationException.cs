using System.Text;

namespace Nitro.Reactive.Machinery;

/// <summary>
/// A machinery configuration file is malformed or lacks something a module needs. The message reads
/// <c>file:line: [section] key: problem</c>, leaving out the parts that do not apply.
/// </summary>
public sealed class MachineryConfigurationException : MachineryException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="fileName">The configuration file.</param>
    /// <param name="lineNumber">The 1-based line of the problem, or 0 when no single line is at fault.</param>
    /// <param name="section">The section concerned, or <see langword="null"/>.</param>
    /// <param name="key">The key concerned, or <see langword="null"/>.</param>
    /// <param name="problem">What is wrong and, where possible, how to fix it.</param>
    /// <param name="innerException">The failure that caused this one, if any.</param>
    public MachineryConfigurationException(string fileName, int lineNumber, string? section, string? key, string problem, Exception? innerException = null)
        : base(label: null, Format(fileName, lineNumber, section, key, problem), innerException)
    {
        FileName = fileName;
        LineNumber = lineNumber;
        Section = section;
        Key = key;
        Problem = problem;
    }

    /// <summary>Gets the configuration file.</summary>
    public string FileName { get; }

    /// <summary>Gets the 1-based line of the problem, or 0 when no single line is at fault.</summary>
    public int LineNumber { get; }

    /// <summary>Gets the section concerned, or <see langword="null"/>.</summary>
    public string? Section { get; }

    /// <summary>Gets the key concerned, or <see langword="null"/>.</summary>
    public string? Key { get; }

    /// <summary>Gets what is wrong, without the location prefix.</summary>
    public string Problem { get; }

    private static string Format(string fileName, int lineNumber, string? section, string? key, string problem)
    {
        var text = new StringBuilder(fileName);
        if (lineNumber > 0)
        {
            text.Append(':').Append(lineNumber);
        }

        text.Append(": ");
        if (section is not null)
        {
            text.Append('[').Append(section).Append("] ");
        }

        if (key is not null)
        {
            text.Append(key).Append(": ");
        }

        return text.Append(problem).ToString();
    }
}
