using System.Collections.Frozen;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>
/// The argument names and kinds of the decoded Linux system calls, by name. The x86-64 table
/// serves ia32 too, except where the ia32 entry differs (<c>clone</c>'s argument order, the
/// old <c>mmap</c> that takes a pointer to its arguments).
/// </summary>
internal static class LinuxSyscallSignatures
{
    public static FrozenDictionary<string, SyscallSignature> X64 { get; } = Build(ia32: false);

    public static FrozenDictionary<string, SyscallSignature> Ia32 { get; } = Build(ia32: true);

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "MA0051:Method is too long", Justification = "A table, one line per system call.")]
    private static FrozenDictionary<string, SyscallSignature> Build(bool ia32)
    {
        var table = new Dictionary<string, SyscallSignature>(StringComparer.Ordinal);
        void Add(string name, Parameter[] parameters, ReturnKind returns = ReturnKind.Long, ExitOutput exit = ExitOutput.None) =>
            table[name] = new SyscallSignature(name, parameters, returns, exit);

        // Files.
        Add("open", [Path("pathname", 0), Flags("flags", 1, LinuxFlags.Open), P("mode", ArgumentKind.Mode, 2)]);
        Add("openat", [DirFd("dirfd", 0), Path("pathname", 1), Flags("flags", 2, LinuxFlags.Open), P("mode", ArgumentKind.Mode, 3)]);
        Add("openat2", [DirFd("dirfd", 0), Path("pathname", 1), P("how", ArgumentKind.OpenHow, 2, aux: 3), Size("size", 3)]);
        Add("creat", [Path("pathname", 0), P("mode", ArgumentKind.Mode, 1)]);
        Add("close", [Int("fd", 0)]);
        Add("read", [Int("fd", 0), Pointer("buf", 1), Size("count", 2)]);
        Add("write", [Int("fd", 0), P("buf", ArgumentKind.BufferPreview, 1, aux: 2), Size("count", 2)]);
        // ia32 passes the 64-bit offset as two registers, low half first.
        var offset = ia32 ? P("offset", ArgumentKind.SplitLong, 3, aux: 4) : P("offset", ArgumentKind.Long, 3);
        Add("pread64", [Int("fd", 0), Pointer("buf", 1), Size("count", 2), offset]);
        Add("pwrite64", [Int("fd", 0), P("buf", ArgumentKind.BufferPreview, 1, aux: 2), Size("count", 2), offset]);
        Add("lseek", [Int("fd", 0), P("offset", ArgumentKind.Long, 1), P("whence", ArgumentKind.Whence, 2)]);
        Add("unlink", [Path("pathname", 0)]);
        Add("unlinkat", [DirFd("dirfd", 0), Path("pathname", 1), Flags("flags", 2, LinuxFlags.Unlinkat)]);
        Add("rename", [Path("oldpath", 0), Path("newpath", 1)]);
        Add("renameat", [DirFd("olddirfd", 0), Path("oldpath", 1), DirFd("newdirfd", 2), Path("newpath", 3)]);
        Add("renameat2", [DirFd("olddirfd", 0), Path("oldpath", 1), DirFd("newdirfd", 2), Path("newpath", 3), Flags("flags", 4, LinuxFlags.Rename)]);
        Add("stat", [Path("pathname", 0), Pointer("statbuf", 1)]);
        Add("lstat", [Path("pathname", 0), Pointer("statbuf", 1)]);
        Add("fstat", [Int("fd", 0), Pointer("statbuf", 1)]);
        Add("newfstatat", [DirFd("dirfd", 0), Path("pathname", 1), Pointer("statbuf", 2), Flags("flags", 3, LinuxFlags.At)]);
        Add("statx", [DirFd("dirfd", 0), Path("pathname", 1), Flags("flags", 2, LinuxFlags.At), P("mask", ArgumentKind.Hex, 3), Pointer("statxbuf", 4)]);
        Add("access", [Path("pathname", 0), Flags("mode", 1, LinuxFlags.Access)]);
        Add("faccessat", [DirFd("dirfd", 0), Path("pathname", 1), Flags("mode", 2, LinuxFlags.Access)]);
        Add("faccessat2", [DirFd("dirfd", 0), Path("pathname", 1), Flags("mode", 2, LinuxFlags.Access), Flags("flags", 3, LinuxFlags.At)]);
        Add("readlink", [Path("pathname", 0), Pointer("buf", 1), Size("bufsiz", 2)]);
        Add("readlinkat", [DirFd("dirfd", 0), Path("pathname", 1), Pointer("buf", 2), Size("bufsiz", 3)]);
        Add("getdents64", [Int("fd", 0), Pointer("dirp", 1), Size("count", 2)]);
        Add("chdir", [Path("path", 0)]);
        Add("fchdir", [Int("fd", 0)]);
        Add("mkdir", [Path("pathname", 0), P("mode", ArgumentKind.Mode, 1)]);
        Add("mkdirat", [DirFd("dirfd", 0), Path("pathname", 1), P("mode", ArgumentKind.Mode, 2)]);
        Add("rmdir", [Path("pathname", 0)]);
        Add("chmod", [Path("pathname", 0), P("mode", ArgumentKind.Mode, 1)]);
        Add("fchmod", [Int("fd", 0), P("mode", ArgumentKind.Mode, 1)]);
        Add("fchmodat", [DirFd("dirfd", 0), Path("pathname", 1), P("mode", ArgumentKind.Mode, 2)]);
        Add("symlink", [Path("target", 0), Path("linkpath", 1)]);
        Add("link", [Path("oldpath", 0), Path("newpath", 1)]);
        Add("dup", [Int("oldfd", 0)]);
        Add("dup2", [Int("oldfd", 0), Int("newfd", 1)]);
        Add("dup3", [Int("oldfd", 0), Int("newfd", 1), Flags("flags", 2, LinuxFlags.FileStatus)]);
        Add("pipe", [Pointer("pipefd", 0)], exit: ExitOutput.PipeFds);
        Add("pipe2", [Pointer("pipefd", 0), Flags("flags", 1, LinuxFlags.FileStatus)], exit: ExitOutput.PipeFds);
        Add("ioctl", [Int("fd", 0), P("request", ArgumentKind.Hex, 1), Pointer("arg", 2)]);
        Add("fcntl", [Int("fd", 0), P("cmd", ArgumentKind.FcntlCommand, 1), P("arg", ArgumentKind.Long, 2)]);

        // Processes.
        Add("execve", [Path("filename", 0), P("argv", ArgumentKind.StringArray, 1), P("envc", ArgumentKind.StringArrayCount, 2)]);
        Add("execveat", [DirFd("dirfd", 0), Path("pathname", 1), P("argv", ArgumentKind.StringArray, 2), P("envc", ArgumentKind.StringArrayCount, 3), Flags("flags", 4, LinuxFlags.At)]);
        Add("clone", ia32
            ? [Flags("flags", 0, LinuxFlags.Clone), Pointer("stack", 1), Pointer("parent_tid", 2), Pointer("tls", 3), Pointer("child_tid", 4)]
            : [Flags("flags", 0, LinuxFlags.Clone), Pointer("stack", 1), Pointer("parent_tid", 2), Pointer("child_tid", 3), Pointer("tls", 4)]);
        Add("clone3", [P("cl_args", ArgumentKind.CloneArgs, 0, aux: 1), Size("size", 1)]);
        Add("fork", []);
        Add("vfork", []);
        Add("exit", [Int("status", 0)]);
        Add("exit_group", [Int("status", 0)]);
        Add("wait4", [Int("pid", 0), Pointer("wstatus", 1), Flags("options", 2, LinuxFlags.WaitOptions), Pointer("rusage", 3)], exit: ExitOutput.WaitStatus);
        Add("kill", [Int("pid", 0), P("sig", ArgumentKind.Signal, 1)]);
        Add("tkill", [Int("tid", 0), P("sig", ArgumentKind.Signal, 1)]);
        Add("tgkill", [Int("tgid", 0), Int("tid", 1), P("sig", ArgumentKind.Signal, 2)]);

        // Memory.
        if (ia32)
        {
            Add("mmap", [P("args", ArgumentKind.OldMmapArgs, 0)], ReturnKind.Address);
            Add("mmap2", [Pointer("addr", 0), Size("length", 1), Flags("prot", 2, LinuxFlags.Prot), Flags("flags", 3, LinuxFlags.Map), Int("fd", 4), P("pgoffset", ArgumentKind.Size, 5)], ReturnKind.Address);
        }
        else
        {
            Add("mmap", [Pointer("addr", 0), Size("length", 1), Flags("prot", 2, LinuxFlags.Prot), Flags("flags", 3, LinuxFlags.Map), Int("fd", 4), P("offset", ArgumentKind.Long, 5)], ReturnKind.Address);
        }

        Add("mprotect", [Pointer("addr", 0), Size("len", 1), Flags("prot", 2, LinuxFlags.Prot)]);
        Add("munmap", [Pointer("addr", 0), Size("length", 1)]);
        Add("brk", [Pointer("addr", 0)], ReturnKind.Address);

        // Sockets.
        Add("socket", [P("domain", ArgumentKind.SocketFamily, 0), Flags("type", 1, LinuxFlags.SocketType), P("protocol", ArgumentKind.SocketProtocol, 2, aux: 0)]);
        Add("connect", [Int("sockfd", 0), P("addr", ArgumentKind.SocketAddress, 1, aux: 2), Int("addrlen", 2)]);
        Add("bind", [Int("sockfd", 0), P("addr", ArgumentKind.SocketAddress, 1, aux: 2), Int("addrlen", 2)]);
        Add("accept", [Int("sockfd", 0)], exit: ExitOutput.PeerAddress);
        Add("accept4", [Int("sockfd", 0), Flags("flags", 3, LinuxFlags.SocketFlags)], exit: ExitOutput.PeerAddress);
        Add("listen", [Int("sockfd", 0), Int("backlog", 1)]);
        Add("sendto", [Int("sockfd", 0), P("buf", ArgumentKind.BufferPreview, 1, aux: 2), Size("len", 2), P("flags", ArgumentKind.Hex, 3), P("dest_addr", ArgumentKind.SocketAddress, 4, aux: 5), Int("addrlen", 5)]);
        Add("recvfrom", [Int("sockfd", 0), Pointer("buf", 1), Size("len", 2), P("flags", ArgumentKind.Hex, 3)]);

        if (ia32)
        {
            // The 32-bit table's names for the same shapes.
            Alias(table, "fcntl64", "fcntl");
            Alias(table, "stat64", "stat");
            Alias(table, "lstat64", "lstat");
            Alias(table, "fstat64", "fstat");
            Alias(table, "fstatat64", "newfstatat");

            // Names from the guest are its handlers' names: 192 (mmap2 in syscall_32.tbl) is sys_mmap_pgoff.
            Alias(table, "mmap_pgoff", "mmap2");
        }

        return table.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static void Alias(Dictionary<string, SyscallSignature> table, string alias, string name)
    {
        var signature = table[name];
        table[alias] = new SyscallSignature(alias, signature.Parameters, signature.Returns, signature.ExitOutput);
    }

    private static Parameter P(string name, ArgumentKind kind, int index, int aux = -1) => new(name, kind, index, aux);

    private static Parameter Int(string name, int index) => new(name, ArgumentKind.Int, index);

    private static Parameter Size(string name, int index) => new(name, ArgumentKind.Size, index);

    private static Parameter Pointer(string name, int index) => new(name, ArgumentKind.Pointer, index);

    private static Parameter Path(string name, int index) => new(name, ArgumentKind.Path, index);

    private static Parameter DirFd(string name, int index) => new(name, ArgumentKind.DirFd, index);

    private static Parameter Flags(string name, int index, FlagTable table) => new(name, ArgumentKind.Flags, index, Flags: table);
}
