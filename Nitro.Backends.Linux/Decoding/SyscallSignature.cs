namespace Nitro.Backends.Linux.Decoding;

/// <summary>How one argument is read and rendered.</summary>
internal enum ArgumentKind
{
    /// <summary>A C <c>int</c> (the low 32 bits, sign-extended) as a <see cref="long"/>.</summary>
    Int,

    /// <summary>A C <c>long</c> / <c>off_t</c> (register width, signed) as a <see cref="long"/>.</summary>
    Long,

    /// <summary>A 64-bit value passed in two 32-bit registers (ia32 <c>pread64</c>): this one the low half, argument <see cref="Parameter.Aux"/> the high half.</summary>
    SplitLong,

    /// <summary>A <c>size_t</c> as a <see cref="long"/>.</summary>
    Size,

    /// <summary>An address, as a hex string.</summary>
    Pointer,

    /// <summary>An opaque unsigned number (ioctl request, mask), as a hex string.</summary>
    Hex,

    /// <summary>A directory descriptor: <c>AT_FDCWD</c> as a string, others as a <see cref="long"/>.</summary>
    DirFd,

    /// <summary>A NUL-terminated UTF-8 path (bound 4096).</summary>
    Path,

    /// <summary>A file mode in octal (<c>0644</c>).</summary>
    Mode,

    /// <summary>A signal number, named.</summary>
    Signal,

    /// <summary>A value named by a <see cref="FlagTable"/> (<see cref="Parameter.Flags"/>).</summary>
    Flags,

    /// <summary>A socket address family.</summary>
    SocketFamily,

    /// <summary>A socket protocol, named for the family in argument <see cref="Parameter.Aux"/>.</summary>
    SocketProtocol,

    /// <summary>A <c>struct sockaddr *</c> whose length is argument <see cref="Parameter.Aux"/>.</summary>
    SocketAddress,

    /// <summary>A NULL-terminated array of string pointers (argv), as a bounded <see cref="string"/> array.</summary>
    StringArray,

    /// <summary>A NULL-terminated array of string pointers reported as its count only (envp).</summary>
    StringArrayCount,

    /// <summary>The first bytes of a buffer whose length is argument <see cref="Parameter.Aux"/>.</summary>
    BufferPreview,

    /// <summary>A <c>struct open_how *</c> of the size in argument <see cref="Parameter.Aux"/>: flags, mode, resolve.</summary>
    OpenHow,

    /// <summary>A <c>struct clone_args *</c> of the size in argument <see cref="Parameter.Aux"/>.</summary>
    CloneArgs,

    /// <summary>The ia32 <c>mmap</c> argument block (<c>struct mmap_arg_struct</c>, six 32-bit words).</summary>
    OldMmapArgs,

    /// <summary>An fcntl command.</summary>
    FcntlCommand,

    /// <summary>An lseek whence.</summary>
    Whence,
}

/// <summary>What the return value of a successful call means.</summary>
internal enum ReturnKind
{
    /// <summary>A count, an fd, a pid or a status, as a <see cref="long"/>.</summary>
    Long,

    /// <summary>An address, as a hex string (mmap, brk).</summary>
    Address,
}

/// <summary>What is read from guest memory at the exit, when the output exists.</summary>
internal enum ExitOutput
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>accept / accept4: the peer address at argument 1 with its length at the <c>int *</c> in argument 2.</summary>
    PeerAddress,

    /// <summary>pipe / pipe2: the two descriptors at argument 0.</summary>
    PipeFds,

    /// <summary>wait4: the status word at argument 1.</summary>
    WaitStatus,
}

/// <summary>One named argument.</summary>
/// <param name="Name">The name in the decoded map (the man page's parameter name).</param>
/// <param name="Kind">How it is read.</param>
/// <param name="Index">The argument index in the calling convention.</param>
/// <param name="Aux">The index of a companion argument (a length, a size, a family), or −1.</param>
/// <param name="Flags">The table for <see cref="ArgumentKind.Flags"/>.</param>
internal readonly record struct Parameter(string Name, ArgumentKind Kind, int Index, int Aux = -1, FlagTable? Flags = null);

/// <summary>The decoding recipe of one system call.</summary>
internal sealed class SyscallSignature
{
    public SyscallSignature(string name, Parameter[] parameters, ReturnKind returns = ReturnKind.Long, ExitOutput exitOutput = ExitOutput.None)
    {
        Name = name;
        Parameters = parameters;
        Returns = returns;
        ExitOutput = exitOutput;
    }

    public string Name { get; }

    public Parameter[] Parameters { get; }

    public ReturnKind Returns { get; }

    public ExitOutput ExitOutput { get; }
}
