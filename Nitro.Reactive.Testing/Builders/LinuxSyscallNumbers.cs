using System.Collections.Frozen;

namespace Nitro.Reactive.Testing.Builders;

/// <summary>A few common Linux x86-64 system call numbers, so fake calls get realistic numbers by name.</summary>
internal static class LinuxSyscallNumbers
{
    private static readonly FrozenDictionary<string, long> s_numbers = new Dictionary<string, long>(StringComparer.Ordinal)
    {
        ["read"] = 0, ["write"] = 1, ["open"] = 2, ["close"] = 3, ["stat"] = 4, ["fstat"] = 5, ["lstat"] = 6,
        ["poll"] = 7, ["lseek"] = 8, ["mmap"] = 9, ["mprotect"] = 10, ["munmap"] = 11, ["brk"] = 12,
        ["rt_sigaction"] = 13, ["rt_sigprocmask"] = 14, ["ioctl"] = 16, ["pread64"] = 17, ["pwrite64"] = 18,
        ["readv"] = 19, ["writev"] = 20, ["access"] = 21, ["pipe"] = 22, ["dup"] = 32, ["dup2"] = 33,
        ["nanosleep"] = 35, ["getpid"] = 39, ["socket"] = 41, ["connect"] = 42, ["accept"] = 43,
        ["sendto"] = 44, ["recvfrom"] = 45, ["bind"] = 49, ["listen"] = 50, ["clone"] = 56, ["fork"] = 57,
        ["vfork"] = 58, ["execve"] = 59, ["exit"] = 60, ["wait4"] = 61, ["kill"] = 62, ["uname"] = 63,
        ["fcntl"] = 72, ["getdents"] = 78, ["getcwd"] = 79, ["chdir"] = 80, ["rename"] = 82, ["mkdir"] = 83,
        ["rmdir"] = 84, ["link"] = 86, ["unlink"] = 87, ["symlink"] = 88, ["readlink"] = 89, ["chmod"] = 90,
        ["chown"] = 92, ["ptrace"] = 101, ["getuid"] = 102, ["setuid"] = 105, ["setgid"] = 106,
        ["prctl"] = 157, ["mount"] = 165, ["init_module"] = 175, ["getdents64"] = 217, ["exit_group"] = 231,
        ["openat"] = 257, ["unlinkat"] = 263, ["accept4"] = 288, ["prlimit64"] = 302, ["finit_module"] = 313,
        ["renameat2"] = 316, ["getrandom"] = 318, ["memfd_create"] = 319, ["execveat"] = 322, ["clone3"] = 435,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Returns the number of <paramref name="name"/>, or 0 when the table does not know it.</summary>
    public static long Lookup(string name) => s_numbers.GetValueOrDefault(name);
}
