namespace Nitro.Backends.Windows.Images;

/// <summary>A file or guest image is not the x64 PE image it should be, or its export table or debug record is damaged.</summary>
public sealed class PeFormatException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What is wrong, naming the file or address.</param>
    public PeFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the underlying failure.</summary>
    /// <param name="message">What is wrong, naming the file or address.</param>
    /// <param name="innerException">The underlying failure.</param>
    public PeFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
