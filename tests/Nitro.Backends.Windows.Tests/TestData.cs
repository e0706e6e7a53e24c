using Nitro.Backends.Windows.Profile;
using Nitro.Tests.Shared;

namespace Nitro.Backends.Windows.Tests;

/// <summary>The real symbol data (../shared/testdata/windows, copied to Data/ in the output) and Wine's real DLLs from the fetch-wine.sh cache.</summary>
internal static class TestData
{
    public const string Win7Guid = "339E74133576439CBCDF7E0229DA3773";
    public const string Win10Guid = "606FF669409B00F7FC8C61A9C1670129";

    private static readonly Lazy<IsfSymbolTable> s_win7 = new(() => IsfSymbolTable.Load(Win7IsfPath));
    private static readonly Lazy<IsfSymbolTable> s_win10 = new(() => IsfSymbolTable.Load(Win10IsfPath));
    private static readonly Lazy<string?> s_wine = new(FindWine);

    public static string DataDirectory => Path.Combine(AppContext.BaseDirectory, "Data");

    public static string Win7IsfPath => Path.Combine(DataDirectory, Win7Guid + ".json.xz");

    public static string Win10IsfPath => Path.Combine(DataDirectory, Win10Guid + ".json.xz");

    public static IsfSymbolTable Win7Isf => s_win7.Value;

    public static IsfSymbolTable Win10Isf => s_win10.Value;

    /// <summary>The Windows 7 SP1 nt table: name and number.</summary>
    public static IReadOnlyList<(string Name, int Number)> Win7NtTable() =>
        [.. File.ReadAllLines(Path.Combine(DataDirectory, "win7sp1-x64-nt.tsv"))
            .Where(l => l.Length > 0)
            .Select(l => l.Split('\t'))
            .Select(p => (p[0], Convert.ToInt32(p[1], 16)))];

    /// <summary>Wine 8's ntdll.dll; fails under NITRO_WINE=required when it cannot be had, else skips.</summary>
    public static string WineNtdll => WineFile("ntdll.dll");

    /// <summary>Wine 8's win32u.dll.</summary>
    public static string WineWin32u => WineFile("win32u.dll");

    private static string WineFile(string name)
    {
        var directory = s_wine.Value;
        if (directory is null)
        {
            const string why = "Wine's ntdll.dll is not cached and tests/Nitro.Backends.Windows.Tests/fetch-wine.sh could not fetch it (apt-get download libwine).";
            if (string.Equals(Environment.GetEnvironmentVariable("NITRO_WINE"), "required", StringComparison.Ordinal))
            {
                Assert.Fail(why + " NITRO_WINE=required, so this fails instead of skipping.");
            }

            Assert.Ignore(why);
        }

        return Path.Combine(directory!, name);
    }

    private static string? FindWine()
    {
        var configured = Environment.GetEnvironmentVariable("NITRO_WINE_DIR");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(Path.Combine(configured, "ntdll.dll")) ? configured : null;
        }

        var script = Path.Combine(TestGuest.RepositoryRoot, "tests", "Nitro.Backends.Windows.Tests", "fetch-wine.sh");
        var (exitCode, stdout, _) = ProcessRunner.Run("bash", TimeSpan.FromMinutes(5), [script]);
        var directory = stdout.Trim();
        return exitCode == 0 && File.Exists(Path.Combine(directory, "ntdll.dll")) ? directory : null;
    }
}
