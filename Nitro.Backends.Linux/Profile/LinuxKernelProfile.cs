using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Nitro.Backends.Linux.Btf;
using Nitro.Backends.Linux.Symbols;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Profile;

/// <summary>
/// Everything the Linux back end needs to know about one running kernel — entry points, the
/// system call table, per-cpu and structure offsets — read from the guest itself (kallsyms and
/// BTF), with KASLR. Built once per kernel build and cached as JSON, keyed by the kernel banner.
/// </summary>
public sealed class LinuxKernelProfile
{
    /// <summary>The most system call table slots read (NR_syscalls is about 450 on 6.1).</summary>
    public const int MaxSyscalls = 512;

    /// <summary>Fewer ia32 calls than this means the dispatcher was misread (6.1 has about 450).</summary>
    private const int MinIa32Syscalls = 300;

    /// <summary>The largest <c>ia32_sys_call</c> read (6.1: about 7 KiB).</summary>
    private const ulong MaxDispatcherBytes = 256 << 10;

    private static readonly string[] s_ia32Prefixes = ["__ia32_compat_sys_", "__ia32_sys_"];

    private const string Text = "_text";
    private const string EntrySyscallName = "entry_SYSCALL_64";
    private const string SysretqName = "entry_SYSRETQ_unsafe_stack";
    private const string ReturnToUserName = "swapgs_restore_regs_and_return_to_usermode";
    private const string SysCallTableName = "sys_call_table";
    private const string Ia32SysCallTableName = "ia32_sys_call_table";
    private const string InitTaskName = "init_task";
    private const string BannerName = "linux_banner";
    private const string PerCpuOffsetName = "__per_cpu_offset";
    private const string DoSyscall64Name = "do_syscall_64";
    private const string Ia32SysCallName = "ia32_sys_call";

    /// <summary>The kernel's own page tables, and the base of its direct map of physical memory.</summary>
    internal const string InitTopPgtName = "init_top_pgt";
    internal const string PageOffsetBaseName = "page_offset_base";

    /// <summary>The kernel's boot progress (<c>enum system_states</c>; SYSTEM_RUNNING once it starts <c>/init</c>).</summary>
    internal const string SystemStateName = "system_state";

    /// <summary>The 32-bit entry code and the C functions it calls, where the kernel has them (see <see cref="TryGetSymbol"/>).</summary>
    private static readonly string[] s_ia32EntrySymbols =
    [
        Ia32EntrySymbols.SysenterEntry, Ia32EntrySymbols.SysenterDispatcher,
        Ia32EntrySymbols.SyscallEntry, Ia32EntrySymbols.SyscallDispatcher,
        Ia32EntrySymbols.Int80Entry, Ia32EntrySymbols.Int80Dispatcher,
        Ia32EntrySymbols.Int80IdtEntry, Ia32EntrySymbols.Int80Emulation,
    ];

    private readonly ProfileDocument _document;

    private LinuxKernelProfile(ProfileDocument document, ulong kernelBase, ulong imageDelta, bool fromCache)
    {
        _document = document;
        KernelBase = kernelBase;
        ImageDelta = imageDelta;
        LoadedFromCache = fromCache;
        Offsets = document.Offsets ?? throw new ProfileException("The profile has no structure offsets.");
        Syscalls = ToEntries(document.Syscalls, kernelBase);
        Ia32Syscalls = ToEntries(document.Ia32Syscalls, kernelBase);
    }

    /// <summary>Gets the kernel banner (<c>linux_banner</c> without its final newline), which identifies the kernel build.</summary>
    public string Banner => _document.Banner;

    /// <summary>Gets the virtual address of <c>_text</c> in this boot (KASLR applied).</summary>
    public ulong KernelBase { get; }

    /// <summary>Gets the kernel image's virtual-minus-physical delta in this boot.</summary>
    public ulong ImageDelta { get; }

    /// <summary>Gets a value indicating whether the KASLR-independent part came from the profile cache.</summary>
    public bool LoadedFromCache { get; }

    /// <summary>Gets the address of <c>entry_SYSCALL_64</c> (its first instruction is <c>swapgs</c>).</summary>
    public ulong EntrySyscall64 => Address(EntrySyscallName);

    /// <summary>Gets the address of <c>entry_SYSRETQ_unsafe_stack</c>: the <c>swapgs</c> right before <c>sysretq</c>.</summary>
    public ulong EntrySysretqUnsafeStack => Address(SysretqName);

    /// <summary>Gets the address of <c>do_syscall_64</c>, the C dispatcher that <c>entry_SYSCALL_64</c> calls.</summary>
    public ulong DoSyscall64 => Address(DoSyscall64Name);

    /// <summary>Gets the address of <c>swapgs_restore_regs_and_return_to_usermode</c> (the <c>iretq</c> return path).</summary>
    public ulong SwapgsRestoreRegsAndReturnToUsermode => Address(ReturnToUserName);

    /// <summary>Gets the address of the 64-bit <c>sys_call_table</c>.</summary>
    public ulong SysCallTable => Address(SysCallTableName);

    /// <summary>Gets the address of <c>ia32_sys_call_table</c>, or <see langword="null"/> when the kernel has none in kallsyms.</summary>
    public ulong? Ia32SysCallTable => _document.Symbols.TryGetValue(Ia32SysCallTableName, out var offset) ? KernelBase + offset : null;

    /// <summary>Gets the address of <c>init_task</c> (the idle task of CPU 0, head of the task list).</summary>
    public ulong InitTask => Address(InitTaskName);

    /// <summary>Gets the address of <c>linux_banner</c>.</summary>
    public ulong LinuxBanner => Address(BannerName);

    /// <summary>Gets the address of <c>__per_cpu_offset</c> (one u64 per possible CPU: the CPU's per-cpu base).</summary>
    public ulong PerCpuOffset => Address(PerCpuOffsetName);

    /// <summary>Gets the offset of the current task pointer in each CPU's per-cpu area (<c>current_task</c>, or <c>pcpu_hot.current_task</c> on 6.2+).</summary>
    public ulong CurrentTaskPerCpuOffset => _document.CurrentTaskPerCpuOffset;

    /// <summary>Gets the per-cpu offset of the current task's kernel stack top (<c>cpu_current_top_of_stack</c>), when the kernel has one.</summary>
    public ulong? TopOfStackPerCpuOffset => _document.TopOfStackPerCpuOffset;

    /// <summary>Gets the structure member offsets from BTF.</summary>
    public KernelTypeOffsets Offsets { get; }

    /// <summary>Gets the 64-bit system call table, indexed by number.</summary>
    public IReadOnlyList<SyscallTableEntry> Syscalls { get; }

    /// <summary>
    /// Gets the 32-bit (ia32) system call table, indexed by number: read from <c>ia32_sys_call_table</c>,
    /// or decoded from the <c>ia32_sys_call</c> dispatcher on kernels that have no table. Empty when the
    /// kernel has no 32-bit entry or the table could not be read (see <see cref="Ia32Error"/>).
    /// </summary>
    public IReadOnlyList<SyscallTableEntry> Ia32Syscalls { get; }

    /// <summary>
    /// Gets why the ia32 system call table could not be read, or <see langword="null"/> when
    /// <see cref="Ia32Syscalls"/> holds it. 64-bit tracing does not depend on it.
    /// </summary>
    public string? Ia32Error => _document.Ia32Error;

    /// <summary>Gets the default cache directory: <c>$XDG_CACHE_HOME/nitro-reactive/profiles</c>, else <c>~/.cache/nitro-reactive/profiles</c>.</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(root))
            {
                root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            }

            return Path.Combine(root, "nitro-reactive", "profiles");
        }
    }

    /// <summary>Builds the profile from guest memory: locates kallsyms, reads BTF, decodes the system call tables.</summary>
    /// <param name="memory">The guest's physical memory (pause the guest first).</param>
    /// <param name="cancellationToken">Cancels the memory scan.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="ProfileException">Symbols, types or a required entry point were not found or failed a check.</exception>
    public static LinuxKernelProfile Build(IGuestMemory memory, CancellationToken cancellationToken = default)
    {
        var symbols = KernelSymbols.Locate(memory, cancellationToken);
        return Build(symbols, BtfTypes.Read(symbols));
    }

    /// <summary>Builds the profile from already decoded symbols and types.</summary>
    /// <param name="symbols">The kernel's symbols.</param>
    /// <param name="types">The kernel's BTF types.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="ProfileException">A required symbol, member or entry-point instruction is missing.</exception>
    public static LinuxKernelProfile Build(KernelSymbols symbols, BtfTypes types)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        ArgumentNullException.ThrowIfNull(types);
        var text = symbols.GetAddress(Text);
        var document = new ProfileDocument { Banner = symbols.ReadImageString(symbols.GetAddress(BannerName), 512).TrimEnd('\n') };
        foreach (var name in new[] { EntrySyscallName, SysretqName, ReturnToUserName, SysCallTableName, InitTaskName, BannerName, PerCpuOffsetName, DoSyscall64Name })
        {
            document.Symbols[name] = symbols.GetAddress(name) - text;
        }

        foreach (var name in s_ia32EntrySymbols.Append(Ia32SysCallTableName).Append(Ia32SysCallName).Append(InitTopPgtName).Append(PageOffsetBaseName).Append(SystemStateName))
        {
            if (symbols.TryGetAddress(name, out var address) && address >= text)
            {
                document.Symbols[name] = address - text;
            }
        }

        RequireSwapgs(symbols, EntrySyscallName, allowEndbr: true);
        RequireSwapgs(symbols, SysretqName, allowEndbr: false);

        document.CurrentTaskPerCpuOffset = symbols.TryGetAddress("current_task", out var current) ? current
            : symbols.TryGetAddress("pcpu_hot", out var hot) ? hot + types.OffsetOf("pcpu_hot", "current_task")
            : throw new ProfileException("The guest kernel has neither a per-cpu current_task nor pcpu_hot symbol; the current task cannot be found.");
        document.TopOfStackPerCpuOffset = symbols.TryGetAddress("cpu_current_top_of_stack", out var top) ? top
            : symbols.TryGetAddress("pcpu_hot", out var hotBase) && TryOffsetOf(types, "pcpu_hot", "top_of_stack") is { } topOffset ? hotBase + topOffset
            : null;
        document.Offsets = ReadOffsets(types);
        document.Syscalls = DecodeTable(symbols, symbols.GetAddress(SysCallTableName), text, ["__x64_sys_"]);
        try
        {
            document.Ia32Syscalls = ReadIa32Syscalls(symbols, text);
        }
        catch (ProfileException e)
        {
            document.Ia32Error = e.Message;
        }

        if (document.Syscalls.Count == 0)
        {
            throw new ProfileException($"sys_call_table at 0x{symbols.GetAddress(SysCallTableName):x} does not start with a __x64_sys_* handler; the table or the image delta is wrong.");
        }

        return new LinuxKernelProfile(document, text, symbols.ImageDelta, fromCache: false);
    }

    /// <summary>
    /// Loads the profile of the guest's kernel build from the cache, else builds it and stores it there.
    /// A cached profile is used only if the banner and entry points still match the guest's memory.
    /// </summary>
    /// <param name="memory">The guest's physical memory (pause the guest first).</param>
    /// <param name="cacheDirectory">The cache directory; <see langword="null"/> for <see cref="DefaultCacheDirectory"/>.</param>
    /// <param name="cancellationToken">Cancels the memory scan.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="ProfileException">No cached profile matches and the profile cannot be built.</exception>
    public static LinuxKernelProfile LoadOrBuild(IGuestMemory memory, string? cacheDirectory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        cacheDirectory ??= DefaultCacheDirectory;
        var hits = FindBannerHits(memory, cancellationToken);
        var tried = new HashSet<string>(StringComparer.Ordinal);
        foreach (var hit in hits)
        {
            if (ReadPhysicalString(memory, hit, 512) is not { } banner || !tried.Add(banner))
            {
                continue;
            }

            var path = GetCachePath(cacheDirectory, banner);
            if (File.Exists(path) && TryLoad(path, memory, hits) is { } cached)
            {
                return cached;
            }
        }

        var profile = Build(memory, cancellationToken);
        try
        {
            profile.Save(cacheDirectory);
        }
        catch (IOException)
        {
            // A read-only or full cache only costs the next start a rebuild.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }

        return profile;
    }

    /// <summary>Gets the cache file of a kernel build.</summary>
    /// <param name="cacheDirectory">The cache directory.</param>
    /// <param name="banner">The kernel banner.</param>
    /// <returns>The file path (the name is a hash of the banner, and the profile format from format 2 on).</returns>
    public static string GetCachePath(string cacheDirectory, string banner)
    {
        ArgumentNullException.ThrowIfNull(cacheDirectory);
        ArgumentNullException.ThrowIfNull(banner);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(banner)));

        // One file per format, so that SDK versions sharing a cache do not keep replacing each other's profile.
        return Path.Combine(cacheDirectory, "linux-" + hash[..24] + "-v" + ProfileDocument.CurrentFormat.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".json");
    }

    /// <summary>
    /// Loads a cached profile if it describes the kernel in <paramref name="memory"/>: its banner must be in
    /// memory, and <c>init_task</c>, <c>entry_SYSCALL_64</c> and <c>sys_call_table[0]</c> must be where the
    /// profile says once this boot's KASLR slide is applied.
    /// </summary>
    /// <param name="path">The JSON file.</param>
    /// <param name="memory">The guest's physical memory.</param>
    /// <param name="cancellationToken">Cancels the memory scan.</param>
    /// <returns>The profile, or <see langword="null"/> when the file is unreadable or does not match the guest.</returns>
    public static LinuxKernelProfile? TryLoad(string path, IGuestMemory memory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(memory);
        return TryLoad(path, memory, FindBannerHits(memory, cancellationToken));
    }

    private static LinuxKernelProfile? TryLoad(string path, IGuestMemory memory, List<ulong> bannerHits)
    {
        ProfileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllText(path), ProfileJsonContext.Default.ProfileDocument);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }

        if (document is null || document.Format != ProfileDocument.CurrentFormat || document.Offsets is null || document.Syscalls.Count == 0
            || !document.Symbols.ContainsKey(BannerName) || !document.Symbols.ContainsKey(InitTaskName) || !document.Symbols.ContainsKey(EntrySyscallName)
            || !document.Symbols.ContainsKey(SysCallTableName) || !document.Symbols.ContainsKey(DoSyscall64Name))
        {
            return null;
        }

        foreach (var hit in bannerHits)
        {
            if (TryAttach(document, memory, hit, out var kernelBase, out var delta))
            {
                return new LinuxKernelProfile(document, kernelBase, delta, fromCache: true);
            }
        }

        return null;
    }

    /// <summary>Saves the KASLR-independent part of the profile to the cache.</summary>
    /// <param name="cacheDirectory">The cache directory; <see langword="null"/> for <see cref="DefaultCacheDirectory"/>.</param>
    /// <returns>The file written.</returns>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public string Save(string? cacheDirectory = null)
    {
        cacheDirectory ??= DefaultCacheDirectory;
        Directory.CreateDirectory(cacheDirectory);
        var path = GetCachePath(cacheDirectory, Banner);
        var temporary = path + "." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(_document, ProfileJsonContext.Default.ProfileDocument));
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>
    /// Reads how far the kernel has booted: <c>system_state</c>, which is SYSTEM_RUNNING (3) from the moment
    /// it starts <c>/init</c> — after alternatives, ftrace and read-only text are all in place.
    /// </summary>
    /// <param name="memory">The guest's physical memory.</param>
    /// <returns>The state, or <see langword="null"/> when the kernel has no such symbol.</returns>
    /// <exception cref="Nitro.Reactive.Memory.GuestMemoryException">The variable is outside guest memory.</exception>
    public int? ReadSystemState(IGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (!TryGetSymbol(SystemStateName, out var address))
        {
            return null;
        }

        Span<byte> value = stackalloc byte[4];
        memory.Read(address - ImageDelta, value);
        return BinaryPrimitives.ReadInt32LittleEndian(value);
    }

    /// <summary>Gets the short name of a 64-bit system call.</summary>
    /// <param name="number">The number (rax).</param>
    /// <returns>The name, e.g. <c>openat</c>, or <see langword="null"/> outside the table.</returns>
    public string? GetSyscallName(int number) => (uint)number < (uint)Syscalls.Count ? Syscalls[number].Name : null;

    /// <summary>Gets the short name of a 32-bit (ia32) system call, as <c>syscall_32.tbl</c> names it.</summary>
    /// <param name="number">The number (eax of an <c>int 0x80</c>, <c>sysenter</c> or 32-bit <c>syscall</c>).</param>
    /// <returns>The name, e.g. <c>open</c> for 5, or <see langword="null"/> outside the table.</returns>
    public string? GetIa32SyscallName(int number) => (uint)number < (uint)Ia32Syscalls.Count ? Ia32Syscalls[number].Name : null;

    /// <summary>Gets the address of an optional symbol the profile keeps (the 32-bit entry code).</summary>
    internal bool TryGetSymbol(string name, out ulong address)
    {
        if (_document.Symbols.TryGetValue(name, out var offset))
        {
            address = KernelBase + offset;
            return true;
        }

        address = 0;
        return false;
    }

    private static IReadOnlyList<SyscallTableEntry> ToEntries(List<SyscallDocument> documents, ulong kernelBase)
    {
        var entries = new SyscallTableEntry[documents.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var d = documents[i];
            entries[i] = new SyscallTableEntry(d.Number, d.HandlerName, d.Name, kernelBase + d.HandlerOffset);
        }

        return entries;
    }

    private static KernelTypeOffsets ReadOffsets(BtfTypes types)
    {
        var comm = types.GetMemberPath("task_struct", "comm");
        if (!types.TryGetArray(comm.TypeId, out _, out var commLength) || commLength is 0 or > 256)
        {
            throw new ProfileException("BTF: task_struct.comm is not a char array of a plausible length.");
        }

        return new KernelTypeOffsets
        {
            TaskStructSize = types.SizeOf(types.FindAggregate("task_struct")),
            TaskPid = types.OffsetOf("task_struct", "pid"),
            TaskTgid = types.OffsetOf("task_struct", "tgid"),
            TaskComm = comm.Offset,
            TaskCommLength = (int)commLength,
            TaskMm = types.OffsetOf("task_struct", "mm"),
            TaskRealParent = types.OffsetOf("task_struct", "real_parent"),
            TaskGroupLeader = types.OffsetOf("task_struct", "group_leader"),
            TaskTasks = types.OffsetOf("task_struct", "tasks"),
            MmPgd = types.OffsetOf("mm_struct", "pgd"),
            MmExeFile = types.OffsetOf("mm_struct", "exe_file"),
            FilePath = types.OffsetOf("file", "f_path"),
            PathDentry = types.OffsetOf("path", "dentry"),
            DentryName = types.OffsetOf("dentry", "d_name"),
            DentryParent = types.OffsetOf("dentry", "d_parent"),
            QstrName = types.OffsetOf("qstr", "name"),
            TaskThreadInfoStatus = TryOffsetOf(types, "task_struct", "thread_info.status"),
            TaskActiveMm = TryOffsetOf(types, "task_struct", "active_mm"),
        };
    }

    private static ulong? TryOffsetOf(BtfTypes types, string type, string member)
    {
        try
        {
            return types.OffsetOf(type, member);
        }
        catch (ProfileException)
        {
            return null;
        }
    }

    private static List<SyscallDocument> DecodeTable(KernelSymbols symbols, ulong table, ulong text, string[] prefixes)
    {
        var result = new List<SyscallDocument>();
        Span<byte> slot = stackalloc byte[8];
        for (var number = 0; number < MaxSyscalls; number++)
        {
            if (!symbols.TryReadImage(table + (8UL * (ulong)number), slot))
            {
                break;
            }

            var handler = BinaryPrimitives.ReadUInt64LittleEndian(slot);
            if (!TryNameHandler(symbols.GetSymbolsAt(handler), prefixes, out var handlerName, out var name))
            {
                break;
            }

            result.Add(new SyscallDocument(number, handlerName, name, handler - text));
        }

        return result;
    }

    /// <summary>
    /// The ia32 table: <c>ia32_sys_call_table</c> where the kernel has one, else the number-to-handler map
    /// decoded from the <c>ia32_sys_call</c> switch (kernels with the BHI mitigation have no table).
    /// </summary>
    private static List<SyscallDocument> ReadIa32Syscalls(KernelSymbols symbols, ulong text)
    {
        if (symbols.TryGetAddress(Ia32SysCallTableName, out var table))
        {
            var fromTable = DecodeTable(symbols, table, text, s_ia32Prefixes);
            return fromTable.Count > 0 ? fromTable
                : throw new ProfileException($"ia32_sys_call_table at 0x{table:x} does not start with an __ia32_* handler; 32-bit calls cannot be named.");
        }

        if (!symbols.TryGetAddress(Ia32SysCallName, out var dispatcher))
        {
            throw new ProfileException("The guest kernel has neither ia32_sys_call_table nor ia32_sys_call (no CONFIG_IA32_EMULATION?); 32-bit calls cannot be named.");
        }

        var end = symbols.NextSymbolAddress(dispatcher);
        if (end <= dispatcher || end - dispatcher > MaxDispatcherBytes)
        {
            throw new ProfileException($"ia32_sys_call at 0x{dispatcher:x} has no plausible end (next symbol at 0x{end:x}); 32-bit calls cannot be named.");
        }

        var code = new byte[end - dispatcher];
        if (!symbols.TryReadImage(dispatcher, code))
        {
            throw new ProfileException($"ia32_sys_call at 0x{dispatcher:x} (0x{code.Length:x} bytes) is not readable in guest memory.");
        }

        var targets = SyscallSwitchDecoder.Decode(code, dispatcher, Iced.Intel.Register.ESI, MaxSyscalls);
        var result = new List<SyscallDocument>(targets.Length);
        for (var number = 0; number < targets.Length; number++)
        {
            var target = targets[number];
            if (!TryNameHandler(symbols.GetSymbolsAt(target), s_ia32Prefixes, out var handlerName, out var name))
            {
                var location = symbols.Lookup(target);
                throw new ProfileException(
                    $"ia32_sys_call sends number {number} to 0x{target:x} ({location?.ToString() ?? "no symbol"}), which is not a system call handler; 32-bit calls cannot be named.");
            }

            result.Add(new SyscallDocument(number, handlerName, name, target - text));
        }

        // Numbers past the last real handler only reach sys_ni_syscall: the table ends there, as NR_syscalls does.
        var count = result.FindLastIndex(d => !d.HandlerName.EndsWith("sys_ni_syscall", StringComparison.Ordinal)) + 1;
        if (count < MinIa32Syscalls)
        {
            throw new ProfileException($"ia32_sys_call at 0x{dispatcher:x} decodes to only {count} system calls; 32-bit calls cannot be named.");
        }

        result.RemoveRange(count, result.Count - count);
        return result;
    }

    private static bool TryNameHandler(IReadOnlyList<KernelSymbol> aliases, string[] prefixes, out string handlerName, out string name)
    {
        foreach (var prefix in prefixes)
        {
            foreach (var alias in aliases)
            {
                if (alias.Name.StartsWith(prefix, StringComparison.Ordinal) && alias.Name.Length > prefix.Length)
                {
                    handlerName = alias.Name;
                    name = alias.Name[prefix.Length..];

                    // arch/x86's own 32-bit variants: __ia32_sys_ia32_pread64 is syscall_32.tbl's pread64.
                    if (prefix.StartsWith("__ia32_", StringComparison.Ordinal) && name.StartsWith("ia32_", StringComparison.Ordinal) && name.Length > 5)
                    {
                        name = name[5..];
                    }

                    return true;
                }
            }
        }

        foreach (var alias in aliases)
        {
            if (alias.Name.EndsWith("sys_ni_syscall", StringComparison.Ordinal))
            {
                handlerName = alias.Name;
                name = "ni_syscall";
                return true;
            }
        }

        handlerName = name = string.Empty;
        return false;
    }

    private static void RequireSwapgs(KernelSymbols symbols, string name, bool allowEndbr)
    {
        var address = symbols.GetAddress(name);
        Span<byte> code = stackalloc byte[7];
        if (!symbols.TryReadImage(address, code) || !StartsWithSwapgs(code, allowEndbr))
        {
            throw new ProfileException(
                $"{name} at 0x{address:x} does not start with swapgs (0f 01 f8) but {Convert.ToHexString(code)}; " +
                "the image delta is wrong or this kernel's entry code is not supported.");
        }
    }

    private static bool StartsWithSwapgs(ReadOnlySpan<byte> code, bool allowEndbr)
    {
        ReadOnlySpan<byte> swapgs = [0x0F, 0x01, 0xF8];
        ReadOnlySpan<byte> endbr64 = [0xF3, 0x0F, 0x1E, 0xFA];
        return code.StartsWith(swapgs) || (allowEndbr && code.StartsWith(endbr64) && code[4..].StartsWith(swapgs));
    }

    private static List<ulong> FindBannerHits(IGuestMemory memory, CancellationToken cancellationToken)
    {
        var digits = new List<ulong>();
        var hits = new List<ulong>();
        KernelSymbols.Scan(memory, digits, hits, cancellationToken);
        return hits;
    }

    private static bool TryAttach(ProfileDocument document, IGuestMemory memory, ulong bannerPhysical, out ulong kernelBase, out ulong delta)
    {
        kernelBase = delta = 0;
        var bannerOffset = document.Symbols[BannerName];
        if (bannerPhysical < bannerOffset || ((bannerPhysical - bannerOffset) & 0xFFF) != 0
            || !string.Equals(ReadPhysicalString(memory, bannerPhysical, 512), document.Banner, StringComparison.Ordinal))
        {
            return false;
        }

        // init_task.group_leader and .real_parent point at init_task itself: that gives this boot's KASLR slide.
        var textPhysical = bannerPhysical - bannerOffset;
        var initTask = textPhysical + document.Symbols[InitTaskName];
        if (!TryReadPhysical(memory, initTask + document.Offsets!.TaskGroupLeader, out var leader)
            || !TryReadPhysical(memory, initTask + document.Offsets.TaskRealParent, out var parent)
            || leader != parent || leader < document.Symbols[InitTaskName])
        {
            return false;
        }

        var text = leader - document.Symbols[InitTaskName];
        if ((text & 0x1F_FFFF) != 0 || text < 0xFFFF_8000_0000_0000UL)
        {
            return false;
        }

        Span<byte> code = stackalloc byte[7];
        var entry = textPhysical + document.Symbols[EntrySyscallName];
        if (GuestMemoryRange.Readable(memory, entry, 7) < 7)
        {
            return false;
        }

        memory.Read(entry, code);
        if (!StartsWithSwapgs(code, allowEndbr: true)
            || !TryReadPhysical(memory, textPhysical + document.Symbols[SysCallTableName], out var first)
            || first != text + document.Syscalls[0].HandlerOffset)
        {
            return false;
        }

        kernelBase = text;
        delta = text - textPhysical;
        return true;
    }

    private static bool TryReadPhysical(IGuestMemory memory, ulong address, out ulong value)
    {
        value = 0;
        if (GuestMemoryRange.Readable(memory, address, 8) < 8)
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[8];
        memory.Read(address, buffer);
        value = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        return true;
    }

    private static string? ReadPhysicalString(IGuestMemory memory, ulong address, int maxBytes)
    {
        var readable = GuestMemoryRange.Readable(memory, address, (ulong)maxBytes);
        if (readable == 0)
        {
            return null;
        }

        var buffer = new byte[(int)readable];
        memory.Read(address, buffer);
        var end = Array.IndexOf(buffer, (byte)0);
        return end < 0 ? null : Encoding.UTF8.GetString(buffer, 0, end).TrimEnd('\n');
    }

    private ulong Address(string name) =>
        _document.Symbols.TryGetValue(name, out var offset) ? KernelBase + offset
        : throw new ProfileException($"The profile has no address for {name}.");
}
