namespace Nitro.Kvm.Plugin;

/// <summary>
/// The QEMU trap plugin cannot be built, loaded or reached, or it stopped waiting for this host:
/// the message says which, and what to do (install gcc, use the gdbstub listener, answer faster).
/// </summary>
public sealed class TrapPluginException : IOException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    public TrapPluginException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The cause.</param>
    public TrapPluginException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
