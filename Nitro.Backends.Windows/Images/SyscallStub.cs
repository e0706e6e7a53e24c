namespace Nitro.Backends.Windows.Images;

/// <summary>
/// One system-call stub exported by <c>ntdll.dll</c> or <c>win32u.dll</c>
/// (<c>mov r10, rcx; mov eax, N</c>): the name it is exported as and the number it puts in EAX.
/// </summary>
/// <param name="Name">The export name (<c>NtCreateFile</c>).</param>
/// <param name="Number">The system call number: table in bits 12–13, index in bits 0–11.</param>
/// <param name="Rva">The stub's address relative to the image base.</param>
public sealed record SyscallStub(string Name, int Number, uint Rva)
{
    /// <summary>Gets the service table: 0 for nt, 1 for win32k.</summary>
    public int Table => (Number >> 12) & 3;

    /// <summary>Gets the index in that table.</summary>
    public int Index => Number & 0xFFF;
}
