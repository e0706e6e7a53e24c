namespace Nitro.Reactive.Machinery;

/// <summary>
/// A machinery operation failed: a machine could not be found, started, stopped, queried,
/// acquired or released, or the module's configuration is wrong
/// (<see cref="MachineryConfigurationException"/>). The message names the machine and the cause;
/// a failure raised by the hypervisor is kept as <see cref="Exception.InnerException"/>.
/// </summary>
public class MachineryException : Exception
{
    /// <summary>Initializes a new instance that concerns no single machine.</summary>
    /// <param name="message">A message naming what failed and what to do next.</param>
    public MachineryException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance that concerns no single machine.</summary>
    /// <param name="message">A message naming what failed and what to do next.</param>
    /// <param name="innerException">The failure that caused this one, if any.</param>
    public MachineryException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance about one machine.</summary>
    /// <param name="label">The hypervisor label of the machine concerned, or <see langword="null"/>.</param>
    /// <param name="message">A message naming the machine, the cause and what to do next.</param>
    /// <param name="innerException">The failure that caused this one, if any.</param>
    public MachineryException(string? label, string message, Exception? innerException)
        : base(message, innerException)
    {
        Label = label;
    }

    /// <summary>Gets the hypervisor label of the machine concerned, or <see langword="null"/> when the failure concerns no single machine.</summary>
    public string? Label { get; }
}
