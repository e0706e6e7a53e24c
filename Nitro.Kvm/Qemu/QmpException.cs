namespace Nitro.Kvm.Qemu;

/// <summary>A QMP command failed, the QMP socket was lost, or QEMU could not be started or reached.</summary>
public sealed class QemuException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    public QemuException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The cause.</param>
    public QemuException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance for an error answer of QEMU.</summary>
    /// <param name="command">The command that failed.</param>
    /// <param name="errorClass">QMP's error class.</param>
    /// <param name="description">QMP's description.</param>
    public QemuException(string command, string errorClass, string description)
        : base($"QMP command '{command}' failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
    }

    /// <summary>Gets the QMP command that failed, if a command failed.</summary>
    public string? Command { get; }

    /// <summary>Gets QMP's error class (e.g. <c>GenericError</c>), if QEMU answered with an error.</summary>
    public string? ErrorClass { get; }
}
