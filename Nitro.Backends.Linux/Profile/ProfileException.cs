namespace Nitro.Backends.Linux.Profile;

/// <summary>
/// The kernel profile (symbols, types, offsets) could not be read from the guest: kallsyms or BTF
/// was not found, was damaged, or a required symbol or member is missing. The message names the
/// physical address, blob offset or symbol involved and what to do next.
/// </summary>
public sealed class ProfileException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">A message naming what is missing or damaged and what to do next.</param>
    public ProfileException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with an inner exception.</summary>
    /// <param name="message">A message naming what is missing or damaged and what to do next.</param>
    /// <param name="innerException">The failure that caused this one.</param>
    public ProfileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
