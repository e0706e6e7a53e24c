using System.Collections.Frozen;
using System.Globalization;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>The x86 (x86-64 and ia32) values of the flag and enumeration arguments the decoder names.</summary>
internal static class LinuxFlags
{
    public const int AtFdCwd = -100;

    public static readonly FlagTable Open = new(
        [
            (0x410000, "O_TMPFILE"), // __O_TMPFILE | O_DIRECTORY
            (0x101000, "O_SYNC"), // __O_SYNC | O_DSYNC
            (0x40, "O_CREAT"), (0x80, "O_EXCL"), (0x100, "O_NOCTTY"), (0x200, "O_TRUNC"), (0x400, "O_APPEND"),
            (0x800, "O_NONBLOCK"), (0x1000, "O_DSYNC"), (0x2000, "O_ASYNC"), (0x4000, "O_DIRECT"),
            (0x8000, "O_LARGEFILE"), (0x10000, "O_DIRECTORY"), (0x20000, "O_NOFOLLOW"), (0x40000, "O_NOATIME"),
            (0x80000, "O_CLOEXEC"), (0x200000, "O_PATH"),
        ],
        fieldMask: 3,
        fieldName: static mode => mode switch { 0 => "O_RDONLY", 1 => "O_WRONLY", 2 => "O_RDWR", _ => null });

    /// <summary>Open flags without an access mode (pipe2, dup3, inotify_init1 …).</summary>
    public static readonly FlagTable FileStatus = new(
        [(0x800, "O_NONBLOCK"), (0x4000, "O_DIRECT"), (0x80000, "O_CLOEXEC")]);

    public static readonly FlagTable Prot = new(
        [(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (8, "PROT_SEM"), (0x01000000, "PROT_GROWSDOWN"), (0x02000000, "PROT_GROWSUP")],
        zero: "PROT_NONE");

    public static readonly FlagTable Map = new(
        [
            (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"), (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"),
            (0x80000, "MAP_SYNC"), (0x100000, "MAP_FIXED_NOREPLACE"),
        ],
        fieldMask: 0xF,
        fieldName: static type => type switch { 1 => "MAP_SHARED", 2 => "MAP_PRIVATE", 3 => "MAP_SHARED_VALIDATE", _ => null });

    private static readonly (ulong, string)[] s_cloneBits =
    [
        (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
        (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"), (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"), (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"),
        (0x100000, "CLONE_PARENT_SETTID"), (0x200000, "CLONE_CHILD_CLEARTID"), (0x400000, "CLONE_DETACHED"),
        (0x800000, "CLONE_UNTRACED"), (0x1000000, "CLONE_CHILD_SETTID"), (0x2000000, "CLONE_NEWCGROUP"),
        (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"),
        (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"), (0x80000000, "CLONE_IO"),
        (0x100000000, "CLONE_CLEAR_SIGHAND"), (0x200000000, "CLONE_INTO_CGROUP"),
    ];

    /// <summary>clone(2) flags: the low byte is the exit signal (CSIGNAL).</summary>
    public static readonly FlagTable Clone = new(
        s_cloneBits,
        fieldMask: 0xFF,
        fieldName: static signal => signal == 0 ? null : LinuxSignals.GetName((int)signal),
        wide: true);

    /// <summary>clone3(2) flags: no exit signal in the flags, and CLONE_NEWTIME in bit 7.</summary>
    public static readonly FlagTable Clone3 = new([.. s_cloneBits, (0x80, "CLONE_NEWTIME")], wide: true);

    public static readonly FlagTable At = new(
        [
            (0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_EACCESS"), (0x400, "AT_SYMLINK_FOLLOW"), (0x800, "AT_NO_AUTOMOUNT"),
            (0x1000, "AT_EMPTY_PATH"), (0x2000, "AT_STATX_FORCE_SYNC"), (0x4000, "AT_STATX_DONT_SYNC"), (0x8000, "AT_RECURSIVE"),
        ]);

    public static readonly FlagTable Unlinkat = new([(0x200, "AT_REMOVEDIR")]);

    public static readonly FlagTable Rename = new([(1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE"), (4, "RENAME_WHITEOUT")]);

    public static readonly FlagTable Resolve = new(
        [
            (1, "RESOLVE_NO_XDEV"), (2, "RESOLVE_NO_MAGICLINKS"), (4, "RESOLVE_NO_SYMLINKS"),
            (8, "RESOLVE_BENEATH"), (0x10, "RESOLVE_IN_ROOT"), (0x20, "RESOLVE_CACHED"),
        ]);

    public static readonly FlagTable SocketType = new(
        [(0x800, "SOCK_NONBLOCK"), (0x80000, "SOCK_CLOEXEC")],
        fieldMask: 0xF,
        fieldName: static type => type switch
        {
            1 => "SOCK_STREAM", 2 => "SOCK_DGRAM", 3 => "SOCK_RAW", 4 => "SOCK_RDM",
            5 => "SOCK_SEQPACKET", 6 => "SOCK_DCCP", 10 => "SOCK_PACKET", _ => null,
        });

    public static readonly FlagTable SocketFlags = new([(0x800, "SOCK_NONBLOCK"), (0x80000, "SOCK_CLOEXEC")]);

    public static readonly FlagTable WaitOptions = new(
        [(1, "WNOHANG"), (2, "WUNTRACED"), (4, "WEXITED"), (8, "WCONTINUED"), (0x1000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"), (0x40000000, "__WALL"), (0x80000000, "__WCLONE")]);

    public static readonly FlagTable Access = new([(1, "X_OK"), (2, "W_OK"), (4, "R_OK")], zero: "F_OK");

    private static readonly FrozenDictionary<int, string> s_families = new Dictionary<int, string>
    {
        [0] = "AF_UNSPEC", [1] = "AF_UNIX", [2] = "AF_INET", [3] = "AF_AX25", [4] = "AF_IPX", [5] = "AF_APPLETALK",
        [6] = "AF_NETROM", [7] = "AF_BRIDGE", [8] = "AF_ATMPVC", [9] = "AF_X25", [10] = "AF_INET6", [11] = "AF_ROSE",
        [12] = "AF_DECnet", [13] = "AF_NETBEUI", [14] = "AF_SECURITY", [15] = "AF_KEY", [16] = "AF_NETLINK",
        [17] = "AF_PACKET", [18] = "AF_ASH", [19] = "AF_ECONET", [20] = "AF_ATMSVC", [21] = "AF_RDS", [22] = "AF_SNA",
        [23] = "AF_IRDA", [24] = "AF_PPPOX", [25] = "AF_WANPIPE", [26] = "AF_LLC", [27] = "AF_IB", [28] = "AF_MPLS",
        [29] = "AF_CAN", [30] = "AF_TIPC", [31] = "AF_BLUETOOTH", [32] = "AF_IUCV", [33] = "AF_RXRPC", [34] = "AF_ISDN",
        [35] = "AF_PHONET", [36] = "AF_IEEE802154", [37] = "AF_CAIF", [38] = "AF_ALG", [39] = "AF_NFC", [40] = "AF_VSOCK",
        [41] = "AF_KCM", [42] = "AF_QIPCRTR", [43] = "AF_SMC", [44] = "AF_XDP", [45] = "AF_MCTP",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<int, string> s_ipProtocols = new Dictionary<int, string>
    {
        [0] = "IPPROTO_IP", [1] = "IPPROTO_ICMP", [2] = "IPPROTO_IGMP", [4] = "IPPROTO_IPIP", [6] = "IPPROTO_TCP",
        [17] = "IPPROTO_UDP", [41] = "IPPROTO_IPV6", [47] = "IPPROTO_GRE", [50] = "IPPROTO_ESP", [51] = "IPPROTO_AH",
        [58] = "IPPROTO_ICMPV6", [132] = "IPPROTO_SCTP", [136] = "IPPROTO_UDPLITE", [255] = "IPPROTO_RAW",
        [262] = "IPPROTO_MPTCP",
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<int, string> s_fcntl = new Dictionary<int, string>
    {
        [0] = "F_DUPFD", [1] = "F_GETFD", [2] = "F_SETFD", [3] = "F_GETFL", [4] = "F_SETFL", [5] = "F_GETLK",
        [6] = "F_SETLK", [7] = "F_SETLKW", [8] = "F_SETOWN", [9] = "F_GETOWN", [10] = "F_SETSIG", [11] = "F_GETSIG",
        [12] = "F_GETLK64", [13] = "F_SETLK64", [14] = "F_SETLKW64", [15] = "F_SETOWN_EX", [16] = "F_GETOWN_EX",
        [17] = "F_GETOWNER_UIDS", [36] = "F_OFD_GETLK", [37] = "F_OFD_SETLK", [38] = "F_OFD_SETLKW",
        [1024] = "F_SETLEASE", [1025] = "F_GETLEASE", [1026] = "F_NOTIFY", [1030] = "F_DUPFD_CLOEXEC",
        [1031] = "F_SETPIPE_SZ", [1032] = "F_GETPIPE_SZ", [1033] = "F_ADD_SEALS", [1034] = "F_GET_SEALS",
        [1035] = "F_GET_RW_HINT", [1036] = "F_SET_RW_HINT", [1037] = "F_GET_FILE_RW_HINT", [1038] = "F_SET_FILE_RW_HINT",
    }.ToFrozenDictionary();

    public static string SocketFamily(int family) => s_families.TryGetValue(family, out var name) ? name : Decimal(family);

    /// <summary>Names the protocol of an AF_INET / AF_INET6 socket; other families' protocols stay numbers.</summary>
    public static string SocketProtocol(int family, int protocol) =>
        (family is 2 or 10) && s_ipProtocols.TryGetValue(protocol, out var name) ? name : Decimal(protocol);

    public static string FcntlCommand(int command) => s_fcntl.TryGetValue(command, out var name) ? name : Decimal(command);

    public static string Whence(int whence) => whence switch
    {
        0 => "SEEK_SET", 1 => "SEEK_CUR", 2 => "SEEK_END", 3 => "SEEK_DATA", 4 => "SEEK_HOLE", _ => Decimal(whence),
    };

    public static string Decimal(int value) => value.ToString(CultureInfo.InvariantCulture);
}
