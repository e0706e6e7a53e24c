using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Nitro.Backends.Windows.Images;

namespace Nitro.Backends.Windows.Profile;

/// <summary>
/// What the Windows back end knows about one kernel build: structure offsets and, when it comes
/// from a Volatility 3 symbol table, the kernel's symbols (relative to the image base) —
/// the system call entries, the service tables, the process list, the processor blocks, and
/// the name of every function (so service-table handlers get their <c>nt!</c> names).
/// </summary>
public sealed class WindowsKernelProfile
{
    /// <summary>The kernel symbols the back end uses, in the order <see cref="Describe"/> lists them.</summary>
    public static readonly IReadOnlyList<string> SymbolNames =
    [
        "KiSystemCall64", "KiSystemCall64Shadow", "KiSystemServiceExit", "KeServiceDescriptorTable",
        "KeServiceDescriptorTableShadow", "KiServiceTable", "KiServiceLimit", "PsActiveProcessHead",
        "PsInitialSystemProcess", "KiProcessorBlock", "NtBuildNumber",
    ];

    private readonly IsfSymbolTable? _table;
    private readonly Dictionary<string, ulong> _symbols;

    private WindowsKernelProfile(string name, WindowsOffsets offsets, IsfSymbolTable? table, PdbIdentity? identity)
    {
        Name = name;
        Offsets = offsets;
        _table = table;
        Identity = identity;
        _symbols = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (table is not null)
        {
            foreach (var symbol in SymbolNames)
            {
                if (table.TryGetSymbol(symbol, out var rva))
                {
                    _symbols[symbol] = rva;
                }
            }
        }
    }

    /// <summary>Gets what this profile is (<c>ntkrnlmp.pdb 339E…-1</c>, <c>built-in 10-22h2</c>).</summary>
    public string Name { get; }

    /// <summary>Gets the PDB the symbol table belongs to; <see langword="null"/> for built-in offsets.</summary>
    public PdbIdentity? Identity { get; }

    /// <summary>Gets the structure offsets.</summary>
    public WindowsOffsets Offsets { get; }

    /// <summary>Gets a value indicating whether the profile has kernel symbols (it came from a symbol table).</summary>
    public bool HasSymbols => _table is not null;

    /// <summary>Gets the short names of the built-in tables (<c>7sp1</c>, <c>10-22h2</c> …).</summary>
    public static IReadOnlyList<string> BuiltInNames => [.. BuiltInOffsets.Builds.Select(b => b.Key)];

    /// <summary>Reads a profile from a Volatility 3 symbol table file (<c>.json</c> or <c>.json.xz</c>).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="WindowsProfileException">The file is missing, damaged, or lacks a structure field the back end needs.</exception>
    public static WindowsKernelProfile Load(string path) => FromSymbolTable(IsfSymbolTable.Load(path), path);

    /// <summary>Builds a profile from a symbol table.</summary>
    /// <param name="table">The table.</param>
    /// <param name="source">What to call it in error messages.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="WindowsProfileException">The table lacks a structure field the back end needs.</exception>
    public static WindowsKernelProfile FromSymbolTable(IsfSymbolTable table, string source = "the symbol table")
    {
        ArgumentNullException.ThrowIfNull(table);
        int Need(string type, string field) => table.TryGetFieldOffset(type, field, out var offset)
            ? offset
            : throw new WindowsProfileException($"{source} has no {type}.{field}: it is not a Windows x64 kernel symbol table (ntkrnlmp.pdb / ntoskrnl.pdb).");
        int? May(string type, string field) => table.TryGetFieldOffset(type, field, out var offset) ? offset : null;

        var wow64 = May("_EPROCESS", "WoW64Process") ?? Need("_EPROCESS", "Wow64Process");
        var offsets = new WindowsOffsets
        {
            KprocessDirectoryTableBase = Need("_KPROCESS", "DirectoryTableBase"),
            KprocessUserDirectoryTableBase = May("_KPROCESS", "UserDirectoryTableBase"),
            EprocessCreateTime = Need("_EPROCESS", "CreateTime"),
            EprocessUniqueProcessId = Need("_EPROCESS", "UniqueProcessId"),
            EprocessActiveProcessLinks = Need("_EPROCESS", "ActiveProcessLinks"),
            EprocessInheritedFromUniqueProcessId = Need("_EPROCESS", "InheritedFromUniqueProcessId"),
            EprocessImageFileName = Need("_EPROCESS", "ImageFileName"),
            EprocessWow64Process = wow64,
            EprocessPeb = Need("_EPROCESS", "Peb"),
            EprocessSeAuditProcessCreationInfo = Need("_EPROCESS", "SeAuditProcessCreationInfo"),
            KthreadApcStateProcess = Need("_KTHREAD", "ApcState") + Need("_KAPC_STATE", "Process"),
            KthreadTeb = Need("_KTHREAD", "Teb"),
            KthreadTrapFrame = May("_KTHREAD", "TrapFrame"),
            KthreadSystemCallNumber = May("_KTHREAD", "SystemCallNumber"),
            KthreadFirstArgument = May("_KTHREAD", "FirstArgument"),
            KthreadPreviousMode = May("_KTHREAD", "PreviousMode"),
            EthreadCid = Need("_ETHREAD", "Cid"),
            KpcrPrcb = Need("_KPCR", "Prcb"),
            KprcbCurrentThread = Need("_KPRCB", "CurrentThread"),
            PebProcessParameters = Need("_PEB", "ProcessParameters"),
            ParametersImagePathName = Need("_RTL_USER_PROCESS_PARAMETERS", "ImagePathName"),
            ParametersCommandLine = Need("_RTL_USER_PROCESS_PARAMETERS", "CommandLine"),
            TrapFrame = new KtrapFrameLayout(
                Need("_KTRAP_FRAME", "Rax"),
                Need("_KTRAP_FRAME", "Rcx"),
                Need("_KTRAP_FRAME", "Rdx"),
                Need("_KTRAP_FRAME", "R8"),
                Need("_KTRAP_FRAME", "R9"),
                Need("_KTRAP_FRAME", "R10"),
                Need("_KTRAP_FRAME", "R11"),
                Need("_KTRAP_FRAME", "Rbp"),
                Need("_KTRAP_FRAME", "Rip"),
                Need("_KTRAP_FRAME", "EFlags"),
                Need("_KTRAP_FRAME", "Rsp"),
                table.TryGetTypeSize("_KTRAP_FRAME", out var size) ? size : KtrapFrameLayout.X64.Size),
        };

        PdbIdentity? identity = null;
        if (table.Guid is { } guidText && System.Guid.TryParseExact(guidText, "N", out var guid))
        {
            identity = new PdbIdentity(table.PdbName ?? "ntkrnlmp.pdb", guid, table.Age);
        }

        return new WindowsKernelProfile(identity?.ToString() ?? source, offsets, table, identity);
    }

    /// <summary>Gets a built-in profile (offsets only, no symbols) by its short name.</summary>
    /// <param name="name">One of <see cref="BuiltInNames"/>.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="WindowsProfileException">No built-in table has that name.</exception>
    public static WindowsKernelProfile BuiltIn(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var build = Array.Find(BuiltInOffsets.Builds, b => string.Equals(b.Key, name, StringComparison.OrdinalIgnoreCase))
            ?? throw new WindowsProfileException($"There is no built-in Windows profile '{name}'; built-in: {string.Join(", ", BuiltInNames)}.");
        return new WindowsKernelProfile($"built-in {build.Key}: {build.Description}", build.Offsets, null, null);
    }

    /// <summary>Gets the built-in profile for a kernel build number (<c>NtBuildNumber</c> &amp; 0xFFFF).</summary>
    /// <param name="buildNumber">The build, such as 7601 or 19045.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="WindowsProfileException">No built-in table covers that build.</exception>
    public static WindowsKernelProfile ForBuild(int buildNumber)
    {
        var build = Array.Find(BuiltInOffsets.Builds, b => b.BuildNumbers.Contains(buildNumber))
            ?? throw new WindowsProfileException(string.Create(
                CultureInfo.InvariantCulture,
                $"Windows build {buildNumber} has no built-in offsets (built-in: 7601, 19041–19045, 22000, 22621, 22631, 26100); give its Volatility 3 symbol table instead."));
        return BuiltIn(build.Key);
    }

    /// <summary>
    /// Picks the profile of a kernel found in guest memory: the symbol table named by its PDB
    /// identity in <paramref name="symbolsDirectory"/> (laid out as Volatility 3 does:
    /// <c>windows/&lt;pdb&gt;/&lt;GUID&gt;-&lt;age&gt;.json.xz</c>, or the file directly in the
    /// directory), else the built-in offsets of its build number.
    /// </summary>
    /// <param name="identity">The kernel image's PDB identity.</param>
    /// <param name="buildNumber">The kernel's build number, when known.</param>
    /// <param name="symbolsDirectory">The symbols directory, or <see langword="null"/>.</param>
    /// <returns>The profile.</returns>
    /// <exception cref="WindowsProfileException">Neither a symbol table nor built-in offsets fit; the message names the file needed.</exception>
    public static WindowsKernelProfile Resolve(PdbIdentity identity, int? buildNumber, string? symbolsDirectory)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (symbolsDirectory is not null)
        {
            foreach (var candidate in CandidatePaths(identity, symbolsDirectory))
            {
                if (File.Exists(candidate))
                {
                    return Load(candidate);
                }
            }
        }

        if (buildNumber is { } build && Array.Exists(BuiltInOffsets.Builds, b => b.BuildNumbers.Contains(build)))
        {
            return ForBuild(build);
        }

        var where = symbolsDirectory ?? "a symbols directory";
        var why = buildNumber is { } b2 ? string.Create(CultureInfo.InvariantCulture, $"build {b2} has no built-in offsets") : "its build number is unknown";
        throw new WindowsProfileException(
            $"No profile for the kernel {identity}: {why}. Put windows/{identity.DatabaseName}/{identity.IsfStem}.json.xz (Volatility 3 symbol table) under {where}.");
    }

    /// <summary>Gets a kernel symbol's address relative to the image base.</summary>
    /// <param name="name">One of <see cref="SymbolNames"/>.</param>
    /// <param name="rva">Receives the relative address.</param>
    /// <returns><see langword="true"/> when the profile has it.</returns>
    public bool TryGetSymbol(string name, out ulong rva) => _symbols.TryGetValue(name, out rva) || (_table?.TryGetSymbol(name, out rva) ?? false);

    /// <summary>Names the kernel function at <paramref name="rva"/> (a service-table handler).</summary>
    /// <param name="rva">The address relative to the image base.</param>
    /// <param name="name">Receives the name.</param>
    /// <returns><see langword="true"/> when the symbol table has a symbol there.</returns>
    public bool TryGetSymbolAt(ulong rva, [NotNullWhen(true)] out string? name)
    {
        name = null;
        return _table is not null && _table.TryGetSymbolAt(rva, out name);
    }

    /// <summary>
    /// Lists what the back end takes from this profile: every offset by its structure path
    /// (<c>EPROCESS.UniqueProcessId</c>) and every kernel symbol it has by name (RVA).
    /// </summary>
    /// <returns>The values, in a stable order.</returns>
    public IReadOnlyList<KeyValuePair<string, long>> Describe()
    {
        var o = Offsets;
        var list = new List<KeyValuePair<string, long>>
        {
            new("KPROCESS.DirectoryTableBase", o.KprocessDirectoryTableBase),
        };
        void Add(string key, int? value)
        {
            if (value is { } v)
            {
                list.Add(new(key, v));
            }
        }

        Add("KPROCESS.UserDirectoryTableBase", o.KprocessUserDirectoryTableBase);
        Add("EPROCESS.CreateTime", o.EprocessCreateTime);
        Add("EPROCESS.UniqueProcessId", o.EprocessUniqueProcessId);
        Add("EPROCESS.ActiveProcessLinks", o.EprocessActiveProcessLinks);
        Add("EPROCESS.InheritedFromUniqueProcessId", o.EprocessInheritedFromUniqueProcessId);
        Add("EPROCESS.ImageFileName", o.EprocessImageFileName);
        Add("EPROCESS.Wow64Process", o.EprocessWow64Process);
        Add("EPROCESS.Peb", o.EprocessPeb);
        Add("EPROCESS.SeAuditProcessCreationInfo", o.EprocessSeAuditProcessCreationInfo);
        Add("KTHREAD.ApcState.Process", o.KthreadApcStateProcess);
        Add("KTHREAD.Teb", o.KthreadTeb);
        Add("KTHREAD.TrapFrame", o.KthreadTrapFrame);
        Add("KTHREAD.SystemCallNumber", o.KthreadSystemCallNumber);
        Add("KTHREAD.FirstArgument", o.KthreadFirstArgument);
        Add("KTHREAD.PreviousMode", o.KthreadPreviousMode);
        Add("ETHREAD.Cid", o.EthreadCid);
        Add("ETHREAD.Cid.UniqueThread", o.EthreadCid + 8);
        Add("KPCR.Prcb", o.KpcrPrcb);
        Add("KPRCB.CurrentThread", o.KprcbCurrentThread);
        Add("PEB.ProcessParameters", o.PebProcessParameters);
        Add("RTL_USER_PROCESS_PARAMETERS.ImagePathName", o.ParametersImagePathName);
        Add("RTL_USER_PROCESS_PARAMETERS.CommandLine", o.ParametersCommandLine);
        AddTrapFrame(list, o.TrapFrame);
        foreach (var symbol in SymbolNames)
        {
            if (_symbols.TryGetValue(symbol, out var rva))
            {
                list.Add(new(symbol, (long)rva));
            }
        }

        return list;
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private static void AddTrapFrame(List<KeyValuePair<string, long>> list, KtrapFrameLayout t)
    {
        list.Add(new("KTRAP_FRAME.Rax", t.Rax));
        list.Add(new("KTRAP_FRAME.Rcx", t.Rcx));
        list.Add(new("KTRAP_FRAME.Rdx", t.Rdx));
        list.Add(new("KTRAP_FRAME.R8", t.R8));
        list.Add(new("KTRAP_FRAME.R9", t.R9));
        list.Add(new("KTRAP_FRAME.R10", t.R10));
        list.Add(new("KTRAP_FRAME.R11", t.R11));
        list.Add(new("KTRAP_FRAME.Rbp", t.Rbp));
        list.Add(new("KTRAP_FRAME.Rip", t.Rip));
        list.Add(new("KTRAP_FRAME.EFlags", t.EFlags));
        list.Add(new("KTRAP_FRAME.Rsp", t.Rsp));
    }

    private static IEnumerable<string> CandidatePaths(PdbIdentity identity, string directory)
    {
        foreach (var stem in new[] { identity.IsfStem, identity.GuidText })
        {
            foreach (var extension in new[] { ".json.xz", ".json" })
            {
                yield return Path.Combine(directory, "windows", identity.DatabaseName, stem + extension);
                yield return Path.Combine(directory, stem + extension);
            }
        }
    }
}
