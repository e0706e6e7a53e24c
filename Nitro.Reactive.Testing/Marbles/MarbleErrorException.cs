namespace Nitro.Reactive.Testing.Marbles;

/// <summary>The error a <c>#</c> in a marble diagram stands for when no other exception is given.</summary>
public sealed class MarbleErrorException : Exception
{
    /// <summary>Initializes a new instance with the message <c>error</c>.</summary>
    public MarbleErrorException()
        : base("error")
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    public MarbleErrorException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MarbleErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Thrown by marble assertions when recorded notifications or subscriptions differ from a diagram.
/// The message shows both diagrams and a line-by-line diff. It does not depend on any test framework,
/// so every runner reports it as a failure.
/// </summary>
public sealed class MarbleAssertionException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    public MarbleAssertionException()
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    public MarbleAssertionException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MarbleAssertionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
