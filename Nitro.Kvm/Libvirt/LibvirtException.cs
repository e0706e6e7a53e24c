namespace Nitro.Kvm.Libvirt;

/// <summary>
/// A libvirt call failed: the library is missing, the connection could not be opened, or a
/// domain or snapshot operation was refused. The message names the operation, the URI or domain,
/// and libvirt's own message.
/// </summary>
public sealed class LibvirtException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    public LibvirtException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed and what to do next.</param>
    /// <param name="innerException">The cause.</param>
    public LibvirtException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance for an error libvirt reported.</summary>
    /// <param name="message">What failed, including libvirt's message.</param>
    /// <param name="code">libvirt's error code (a <c>virErrorNumber</c>).</param>
    /// <param name="errorDomain">The part of libvirt that raised the error (a <c>virErrorDomain</c>).</param>
    public LibvirtException(string message, int code, int errorDomain)
        : base(message)
    {
        Code = code;
        ErrorDomain = errorDomain;
    }

    /// <summary>Gets libvirt's error code (a <c>virErrorNumber</c>, e.g. 42 for "domain not found"), or 0 when libvirt reported none.</summary>
    public int Code { get; }

    /// <summary>Gets the part of libvirt that raised the error (a <c>virErrorDomain</c>), or 0 when libvirt reported none.</summary>
    public int ErrorDomain { get; }

    /// <summary>Builds the exception from libvirt's last error on this thread.</summary>
    internal static LibvirtException FromLastError(string operation)
    {
        var error = Interop.Libvirt.GetLastError();
        var detail = string.IsNullOrEmpty(error.Message) ? "libvirt reported no error message" : error.Message;
        return new LibvirtException($"{operation} failed: {detail} (libvirt error code {error.Code}, domain {error.Domain})", error.Code, error.Domain);
    }
}
