namespace Nitro.Backends.Windows.Decoding;

/// <summary>The names of NT access masks, file options, memory protections and registry types (winnt.h / ntifs.h values).</summary>
internal static class NtFlags
{
    private static readonly (uint, string)[] s_standard =
    [
        (0x80000000, "GENERIC_READ"), (0x40000000, "GENERIC_WRITE"), (0x20000000, "GENERIC_EXECUTE"), (0x10000000, "GENERIC_ALL"),
        (0x02000000, "MAXIMUM_ALLOWED"), (0x01000000, "ACCESS_SYSTEM_SECURITY"), (0x00100000, "SYNCHRONIZE"),
        (0x00080000, "WRITE_OWNER"), (0x00040000, "WRITE_DAC"), (0x00020000, "READ_CONTROL"), (0x00010000, "DELETE"),
    ];

    public static readonly NamedValues AccessMask = NamedValues.Flags(s_standard);

    public static readonly NamedValues FileAccess = NamedValues.Flags(
        [
            (0x1, "FILE_READ_DATA"), (0x2, "FILE_WRITE_DATA"), (0x4, "FILE_APPEND_DATA"), (0x8, "FILE_READ_EA"), (0x10, "FILE_WRITE_EA"),
            (0x20, "FILE_EXECUTE"), (0x40, "FILE_DELETE_CHILD"), (0x80, "FILE_READ_ATTRIBUTES"), (0x100, "FILE_WRITE_ATTRIBUTES"), .. s_standard,
        ],
        (0x1F01FF, "FILE_ALL_ACCESS"),
        (0x120089, "FILE_GENERIC_READ"),
        (0x120116, "FILE_GENERIC_WRITE"),
        (0x1200A0, "FILE_GENERIC_EXECUTE"));

    public static readonly NamedValues KeyAccess = NamedValues.Flags(
        [
            (0x1, "KEY_QUERY_VALUE"), (0x2, "KEY_SET_VALUE"), (0x4, "KEY_CREATE_SUB_KEY"), (0x8, "KEY_ENUMERATE_SUB_KEYS"), (0x10, "KEY_NOTIFY"),
            (0x20, "KEY_CREATE_LINK"), (0x100, "KEY_WOW64_64KEY"), (0x200, "KEY_WOW64_32KEY"), .. s_standard,
        ],
        (0xF003F, "KEY_ALL_ACCESS"),
        (0x20019, "KEY_READ"),
        (0x20006, "KEY_WRITE"));

    public static readonly NamedValues ProcessAccess = NamedValues.Flags(
        [
            (0x1, "PROCESS_TERMINATE"), (0x2, "PROCESS_CREATE_THREAD"), (0x4, "PROCESS_SET_SESSIONID"), (0x8, "PROCESS_VM_OPERATION"),
            (0x10, "PROCESS_VM_READ"), (0x20, "PROCESS_VM_WRITE"), (0x40, "PROCESS_DUP_HANDLE"), (0x80, "PROCESS_CREATE_PROCESS"),
            (0x100, "PROCESS_SET_QUOTA"), (0x200, "PROCESS_SET_INFORMATION"), (0x400, "PROCESS_QUERY_INFORMATION"),
            (0x800, "PROCESS_SUSPEND_RESUME"), (0x1000, "PROCESS_QUERY_LIMITED_INFORMATION"), .. s_standard,
        ],
        (0x1FFFFF, "PROCESS_ALL_ACCESS"));

    public static readonly NamedValues ThreadAccess = NamedValues.Flags(
        [
            (0x1, "THREAD_TERMINATE"), (0x2, "THREAD_SUSPEND_RESUME"), (0x8, "THREAD_GET_CONTEXT"), (0x10, "THREAD_SET_CONTEXT"),
            (0x20, "THREAD_SET_INFORMATION"), (0x40, "THREAD_QUERY_INFORMATION"), (0x80, "THREAD_SET_THREAD_TOKEN"),
            (0x100, "THREAD_IMPERSONATE"), (0x200, "THREAD_DIRECT_IMPERSONATION"), (0x800, "THREAD_QUERY_LIMITED_INFORMATION"), .. s_standard,
        ],
        (0x1FFFFF, "THREAD_ALL_ACCESS"));

    public static readonly NamedValues SectionAccess = NamedValues.Flags(
        [(0x1, "SECTION_QUERY"), (0x2, "SECTION_MAP_WRITE"), (0x4, "SECTION_MAP_READ"), (0x8, "SECTION_MAP_EXECUTE"), (0x10, "SECTION_EXTEND_SIZE"), .. s_standard],
        (0xF001F, "SECTION_ALL_ACCESS"));

    public static readonly NamedValues MutantAccess = NamedValues.Flags([(0x1, "MUTANT_QUERY_STATE"), .. s_standard], (0x1F0001, "MUTANT_ALL_ACCESS"));

    public static readonly NamedValues EventAccess = NamedValues.Flags([(0x1, "EVENT_QUERY_STATE"), (0x2, "EVENT_MODIFY_STATE"), .. s_standard], (0x1F0003, "EVENT_ALL_ACCESS"));

    public static readonly NamedValues CreateOptions = NamedValues.Flags(
    [
        (0x1, "FILE_DIRECTORY_FILE"), (0x2, "FILE_WRITE_THROUGH"), (0x4, "FILE_SEQUENTIAL_ONLY"), (0x8, "FILE_NO_INTERMEDIATE_BUFFERING"),
        (0x10, "FILE_SYNCHRONOUS_IO_ALERT"), (0x20, "FILE_SYNCHRONOUS_IO_NONALERT"), (0x40, "FILE_NON_DIRECTORY_FILE"),
        (0x80, "FILE_CREATE_TREE_CONNECTION"), (0x100, "FILE_COMPLETE_IF_OPLOCKED"), (0x200, "FILE_NO_EA_KNOWLEDGE"),
        (0x400, "FILE_OPEN_FOR_RECOVERY"), (0x800, "FILE_RANDOM_ACCESS"), (0x1000, "FILE_DELETE_ON_CLOSE"), (0x2000, "FILE_OPEN_BY_FILE_ID"),
        (0x4000, "FILE_OPEN_FOR_BACKUP_INTENT"), (0x8000, "FILE_NO_COMPRESSION"), (0x100000, "FILE_RESERVE_OPFILTER"),
        (0x200000, "FILE_OPEN_REPARSE_POINT"), (0x400000, "FILE_OPEN_NO_RECALL"), (0x800000, "FILE_OPEN_FOR_FREE_SPACE_QUERY"),
    ]);

    public static readonly NamedValues CreateDisposition = NamedValues.Enum(
        (0, "FILE_SUPERSEDE"), (1, "FILE_OPEN"), (2, "FILE_CREATE"), (3, "FILE_OPEN_IF"), (4, "FILE_OVERWRITE"), (5, "FILE_OVERWRITE_IF"));

    public static readonly NamedValues ShareAccess = NamedValues.Flags([(0x1, "FILE_SHARE_READ"), (0x2, "FILE_SHARE_WRITE"), (0x4, "FILE_SHARE_DELETE")]);

    public static readonly NamedValues FileAttributes = NamedValues.Flags(
    [
        (0x1, "FILE_ATTRIBUTE_READONLY"), (0x2, "FILE_ATTRIBUTE_HIDDEN"), (0x4, "FILE_ATTRIBUTE_SYSTEM"), (0x10, "FILE_ATTRIBUTE_DIRECTORY"),
        (0x20, "FILE_ATTRIBUTE_ARCHIVE"), (0x80, "FILE_ATTRIBUTE_NORMAL"), (0x100, "FILE_ATTRIBUTE_TEMPORARY"),
    ]);

    public static readonly NamedValues Protection = NamedValues.Flags(
    [
        (0x1, "PAGE_NOACCESS"), (0x2, "PAGE_READONLY"), (0x4, "PAGE_READWRITE"), (0x8, "PAGE_WRITECOPY"), (0x10, "PAGE_EXECUTE"),
        (0x20, "PAGE_EXECUTE_READ"), (0x40, "PAGE_EXECUTE_READWRITE"), (0x80, "PAGE_EXECUTE_WRITECOPY"), (0x100, "PAGE_GUARD"),
        (0x200, "PAGE_NOCACHE"), (0x400, "PAGE_WRITECOMBINE"),
    ]);

    public static readonly NamedValues AllocationType = NamedValues.Flags(
    [
        (0x1000, "MEM_COMMIT"), (0x2000, "MEM_RESERVE"), (0x4000, "MEM_DECOMMIT"), (0x8000, "MEM_RELEASE"), (0x80000, "MEM_RESET"),
        (0x100000, "MEM_TOP_DOWN"), (0x200000, "MEM_WRITE_WATCH"), (0x400000, "MEM_PHYSICAL"), (0x1000000, "MEM_RESET_UNDO"),
        (0x20000000, "MEM_LARGE_PAGES"),
    ]);

    public static readonly NamedValues SectionAttributes = NamedValues.Flags(
    [
        (0x800000, "SEC_FILE"), (0x1000000, "SEC_IMAGE"), (0x4000000, "SEC_RESERVE"), (0x8000000, "SEC_COMMIT"), (0x10000000, "SEC_NOCACHE"),
        (0x80000000, "SEC_LARGE_PAGES"),
    ]);

    public static readonly NamedValues RegistryType = NamedValues.Enum(
        (0, "REG_NONE"), (1, "REG_SZ"), (2, "REG_EXPAND_SZ"), (3, "REG_BINARY"), (4, "REG_DWORD"), (5, "REG_DWORD_BIG_ENDIAN"),
        (6, "REG_LINK"), (7, "REG_MULTI_SZ"), (8, "REG_RESOURCE_LIST"), (9, "REG_FULL_RESOURCE_DESCRIPTOR"),
        (10, "REG_RESOURCE_REQUIREMENTS_LIST"), (11, "REG_QWORD"));

    public static readonly NamedValues KeyOptions = NamedValues.Flags(
        [(0x1, "REG_OPTION_VOLATILE"), (0x2, "REG_OPTION_CREATE_LINK"), (0x4, "REG_OPTION_BACKUP_RESTORE"), (0x8, "REG_OPTION_OPEN_LINK")],
        (0, "REG_OPTION_NON_VOLATILE"));

    public static readonly NamedValues KeyDisposition = NamedValues.Enum((1, "REG_CREATED_NEW_KEY"), (2, "REG_OPENED_EXISTING_KEY"));
}
