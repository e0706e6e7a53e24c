namespace Nitro.Kvm.GdbStub;

/// <summary>
/// The gdbstub connection failed: it could not be opened, was lost, the stub answered a command
/// with an error, or spoke something that is not the GDB remote protocol.
/// </summary>
public sealed class GdbStubException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    public GdbStubException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The cause.</param>
    public GdbStubException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance for a failure of one command.</summary>
    /// <param name="endpoint">The socket (path or host:port).</param>
    /// <param name="command">The command that failed.</param>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The cause, if any.</param>
    public GdbStubException(string endpoint, string command, string message, Exception? innerException = null)
        : base($"gdbstub {endpoint}: '{command}' failed: {message}", innerException)
    {
        Endpoint = endpoint;
        Command = command;
    }

    /// <summary>Gets the gdbstub socket (path or host:port), when known.</summary>
    public string? Endpoint { get; }

    /// <summary>Gets the command that failed, when one did.</summary>
    public string? Command { get; }
}
