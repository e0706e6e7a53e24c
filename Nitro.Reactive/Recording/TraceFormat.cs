namespace Nitro.Reactive.Recording;

/// <summary>
/// The Nitro trace file format (<c>.nitrotrace</c>), version 2 (a reader reads 1 and 2). All integers are little-endian;
/// all strings are UTF-8 without a terminator. FORMAT.md next to this file has the same
/// description with tables.
/// </summary>
/// <remarks>
/// <para><b>File header.</b> <c>magic[8] = "NITROTRC"</c>, <c>u16 version</c> (a reader rejects a
/// version newer than <see cref="CurrentVersion"/> before it looks at anything else),
/// <c>u16 flags</c> (none defined; a reader rejects unknown bits), <c>u32 headerLength</c> (the
/// whole header including the checksum, at most <see cref="MaxHeaderLength"/>), <c>u16 count</c>
/// metadata entries of <c>u16 keyLength, key, u16 valueLength, value</c>, and a <c>u32</c>
/// CRC-32C of every header byte before it. Keys a writer always sets: <c>os</c>, <c>kernel</c>,
/// <c>vcpus</c>, <c>source</c>, <c>created-utc</c> (ISO 8601 round-trip, UTC) and
/// <c>monotonic-origin-ns</c> (the <see cref="Events.MonotonicClock"/> reading taken at the same
/// moment as <c>created-utc</c>, so that an event timestamp <c>t</c> happened at
/// <c>created-utc + (t − monotonic-origin-ns)</c>).</para>
/// <para><b>Blocks.</b> The body is a sequence of blocks. A block header is 20 bytes:
/// <c>u32 payloadLength</c> (1 … <see cref="MaxBlockPayload"/>), <c>u32 recordCount</c>,
/// <c>u32 sequence</c> (0, 1, 2 … so a lost or repeated block is noticed), <c>u32</c> CRC-32C of
/// the payload, <c>u32</c> CRC-32C of the 16 header bytes before it. A reader checks the length
/// bound before waiting for or allocating the payload, and checks both checksums before it
/// delivers any record of the block. Records never straddle blocks.</para>
/// <para><b>Records.</b> <c>u8 kind</c>, <c>u32 bodyLength</c>, body. Kinds:
/// <list type="number">
/// <item><b>Event</b>: <c>u16 vcpu, u8 direction, u8 mechanism, u8 flags, u8[3] 0, i64 timestamp,
/// Registers[144]</c> and, when flag bit 0 is set, <c>SpecialRegisters[312]</c>. Registers are the
/// raw kvm_regs / kvm_sregs bytes. The special registers are written only when they differ from
/// the previous event of the same vCPU (always for a vCPU's first event); the reader keeps
/// them per vCPU.</item>
/// <item><b>Syscall</b>: decoded system call belonging to the last event record of the same vCPU
/// (the writer writes that event first when needed). <c>u16 vcpu, u8 flags (1: thread id,
/// 2: process, 4: parent pid, 8: decoded map id, 16: process id), u8 0, i64 number, str name, str
/// fullName, str convention</c>, <c>[i64 threadId]</c>, the process: <c>[i32 pid, str
/// processName, [i32 parentPid], u16 n, n × (str key, value)]</c>, or with flags 2 and 16 and not
/// 4 (format 2) the <c>u32</c> id of a process record, and the decoded arguments: <c>u16 n, n ×
/// (str key, value)</c>, or with flag 8 (format 2) the <c>u32</c> id of a map record.</item>
/// <item><b>String</b>: <c>u32 id, bytes</c> — defines interned string <c>id</c> (ids are 0, 1,
/// 2 … in order, at most <see cref="MaxInternedStrings"/>, each at most
/// <see cref="MaxInternedStringBytes"/> bytes).</item>
/// <item><b>End</b>: <c>u64 events, u64 syscalls, u64 strings, u64 sequence</c> — totals, and the
/// sequence of the block holding it, which must be the last block of the file.</item>
/// <item><b>Map</b> (format 2): <c>u32 id, u16 n, n × (str key, value)</c> — defines decoded map
/// <c>id</c> (ids are 0, 1, 2 … in order, at most <see cref="MaxInternedMaps"/>, each at most
/// <see cref="MaxInternedMapBytes"/> bytes after the id, no byte[] or string[] values), which the
/// syscall records that name it share.</item>
/// <item><b>Process</b> (format 2): <c>u32 id, u8 flags (4: parent pid), i32 pid, str name, [i32
/// parentPid], u16 n, n × (str key, value)</c> — defines process <c>id</c> (ids 0, 1, 2 … in
/// order, at most <see cref="MaxInternedProcesses"/>, each at most
/// <see cref="MaxInternedProcessBytes"/> bytes after the flags, properties as a map record's).</item>
/// </list>
/// A <c>str</c> is a <c>u32</c> interned-string id, or <c>0xFFFFFFFF</c> followed by an inline
/// <c>u32 length, bytes</c>. A value is <c>u8 tag</c> and payload: 0 null, 1 i64, 2 u64, 3 string
/// (<c>u32 length, bytes</c>), 4 byte[] (<c>u32 length, bytes</c>), 5 string[] (<c>u32 count</c>,
/// strings), 6 bool (<c>u8</c>), 7 Unreadable (<c>u64 address</c>, string reason), 8 i32. Other
/// .NET values are written as their <c>ToString()</c> with tag 3.</para>
/// </remarks>
public static class TraceFormat
{
    /// <summary>The format version this library writes and the newest it reads.</summary>
    public const ushort CurrentVersion = 2;

    /// <summary>The largest file header accepted, in bytes.</summary>
    public const int MaxHeaderLength = 64 * 1024;

    /// <summary>The largest block payload accepted, in bytes (1 MiB).</summary>
    public const int MaxBlockPayload = 1024 * 1024;

    /// <summary>The most interned strings a trace may define.</summary>
    public const int MaxInternedStrings = 65536;

    /// <summary>The longest interned string in UTF-8 bytes; longer strings are written inline.</summary>
    public const int MaxInternedStringBytes = 256;

    /// <summary>The most decoded-argument maps a trace may define (format 2).</summary>
    public const int MaxInternedMaps = 65536;

    /// <summary>The longest decoded-argument map a trace may define, in bytes; longer maps are written in their records.</summary>
    public const int MaxInternedMapBytes = 256;

    /// <summary>The most processes a trace may define (format 2).</summary>
    public const int MaxInternedProcesses = 65536;

    /// <summary>The longest process a trace may define, in bytes after its id and flags; longer processes are written in their records.</summary>
    public const int MaxInternedProcessBytes = 256;

    /// <summary>The highest vCPU index a trace may hold, plus one.</summary>
    public const int MaxVcpus = 4096;

    /// <summary>The size of a block header in bytes.</summary>
    public const int BlockHeaderSize = 20;

    internal const int FixedHeaderSize = 18;

    /// <summary>The bytes of the file header up to and including its length field (offset 12).</summary>
    internal const int HeaderLengthEnd = 16;

    internal const int RecordHeaderSize = 5;
    internal const int EventFixedSize = 16 + Events.Registers.Size;
    internal const int EventWithSregsSize = EventFixedSize + Events.SpecialRegisters.Size;
    internal const int EndBodySize = 32;
    internal const uint InlineString = 0xFFFFFFFF;
    internal const byte EventHasSpecialRegisters = 1;
    internal const byte SyscallHasThreadId = 1;
    internal const byte SyscallHasProcess = 2;
    internal const byte SyscallHasParentPid = 4;
    internal const byte SyscallDecodedIsMapId = 8;
    internal const byte SyscallProcessIsId = 16;

    /// <summary>Gets the 8 magic bytes that open every trace file (<c>NITROTRC</c>).</summary>
    public static ReadOnlySpan<byte> Magic => "NITROTRC"u8;

    /// <summary>Whether a file header of <paramref name="length"/> bytes (its checksum included) is within the format's bounds.</summary>
    internal static bool IsValidHeaderLength(uint length) => length >= FixedHeaderSize + 4 && length <= MaxHeaderLength;

    /// <summary>Whether a block payload of <paramref name="length"/> bytes is within the format's bounds.</summary>
    internal static bool IsValidBlockPayload(uint length) => length is > 0 and <= MaxBlockPayload;

    internal static class Keys
    {
        public const string Os = "os";
        public const string Kernel = "kernel";
        public const string Vcpus = "vcpus";
        public const string Source = "source";
        public const string CreatedUtc = "created-utc";
        public const string MonotonicOrigin = "monotonic-origin-ns";
    }
}

internal enum RecordKind : byte
{
    Event = 1,
    Syscall = 2,
    String = 3,
    End = 4,
    Map = 5,
    Process = 6,
}

internal enum ValueTag : byte
{
    Null = 0,
    Int64 = 1,
    UInt64 = 2,
    String = 3,
    Bytes = 4,
    StringArray = 5,
    Boolean = 6,
    Unreadable = 7,
    Int32 = 8,
}
