namespace Nitro.Backends.Windows.Decoding;

/// <summary>How one NT argument is read and rendered.</summary>
internal enum NtKind
{
    /// <summary>A HANDLE, as hex (<c>NtCurrentProcess</c> / <c>NtCurrentThread</c> for −1 / −2).</summary>
    Handle,

    /// <summary>A PHANDLE the call fills: the pointer at entry, the handle at a successful exit.</summary>
    OutHandle,

    /// <summary>An ACCESS_MASK named with <see cref="NtParameter.Names"/>.</summary>
    Access,

    /// <summary>A POBJECT_ATTRIBUTES: the object name, and <c>.RootDirectory</c> when relative.</summary>
    ObjectAttributes,

    /// <summary>A PUNICODE_STRING.</summary>
    UnicodeString,

    /// <summary>A ULONG as a number.</summary>
    ULong,

    /// <summary>A SIZE_T / ULONG_PTR as a number.</summary>
    Size,

    /// <summary>A pointer or opaque value, as hex.</summary>
    Pointer,

    /// <summary>A BOOLEAN.</summary>
    Boolean,

    /// <summary>A ULONG named with <see cref="NtParameter.Names"/> (flags or one constant).</summary>
    Named,

    /// <summary>A PLARGE_INTEGER: the 64-bit value it points to (a time in 100 ns units, an offset).</summary>
    LargeInteger,

    /// <summary>A PCLIENT_ID: <c>.UniqueProcess</c> and <c>.UniqueThread</c>.</summary>
    ClientId,

    /// <summary>A PVOID* in and out (a base address): the value it points to, at entry and at a successful exit.</summary>
    InOutPointer,

    /// <summary>A PSIZE_T in and out (a region size): the value it points to, at entry and at a successful exit.</summary>
    InOutSize,

    /// <summary>A PULONG the call fills, named with <see cref="NtParameter.Names"/> at a successful exit.</summary>
    OutNamed,

    /// <summary>The first bytes of a buffer whose length is argument <see cref="NtParameter.Aux"/>.</summary>
    Buffer,

    /// <summary>An NTSTATUS passed in (an exit status), named.</summary>
    Status,

    /// <summary>A PRTL_USER_PROCESS_PARAMETERS: <c>.ImagePathName</c> and <c>.CommandLine</c>.</summary>
    ProcessParameters,
}

/// <summary>One named argument of an NT call, by its prototype name.</summary>
/// <param name="Name">The prototype's parameter name.</param>
/// <param name="Kind">How it is read.</param>
/// <param name="Names">The names for <see cref="NtKind.Access"/>, <see cref="NtKind.Named"/> and <see cref="NtKind.OutNamed"/>.</param>
/// <param name="Aux">The index of a companion argument (a buffer's length), or −1.</param>
internal readonly record struct NtParameter(string Name, NtKind Kind, NamedValues? Names = null, int Aux = -1);
