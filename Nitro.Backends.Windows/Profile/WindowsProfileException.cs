namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// A Windows kernel profile cannot be built: a symbol table is missing, damaged or lacks a
/// field the back end needs, the build has no built-in offsets, or the kernel image is not
/// where or what it should be. The message names the file, build or address and what to do.
/// </summary>
public sealed class WindowsProfileException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    public WindowsProfileException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the underlying failure.</summary>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WindowsProfileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
