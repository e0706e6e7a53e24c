using System.Text.Json;
using Nitro.Cli;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Cli;

public sealed class WindowsCommandTests
{
    private static readonly Lazy<string?> s_wine = new(FindWine);

    private static string DataDirectory => Path.GetFullPath(Path.Combine(TestGuest.RepositoryRoot, "..", "shared", "testdata", "windows"));

    private static string Win7Isf => Path.Combine(DataDirectory, "339E74133576439CBCDF7E0229DA3773.json.xz");

    [Test]
    public async Task Syscalls_prints_one_tab_separated_line_per_stub_of_wine_ntdll()
    {
        var (code, output, error) = await RunAsync("windows", "syscalls", "--ntdll", WineFile("ntdll.dll"));

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.GreaterThan(200));
        Assert.That(lines, Has.All.Match(@"^\w+\t0x[0-9a-f]{4}$"));
        Assert.That(lines, Does.Contain("NtClose\t0x0015").And.Contain("NtCreateFile\t0x001d"));
    }

    [Test]
    public async Task Syscalls_as_a_table_names_the_win32k_table_of_win32u()
    {
        var (code, output, error) = await RunAsync("windows", "syscalls", "--ntdll", WineFile("win32u.dll"), "--format", "table");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Contain("NtUserGetDC").And.Contain("win32k").And.Contain("0x1085"));
    }

    [Test]
    public async Task Syscalls_of_a_file_that_is_not_a_pe_fails_with_one_line()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, "not a dll");
            var (code, output, error) = await RunAsync("windows", "syscalls", "--ntdll", path);

            Assert.That(code, Is.Not.EqualTo(NitroCommand.Ok));
            Assert.That(output, Is.Empty);
            Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(error, Does.Contain("Not a PE image"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Profile_prints_one_json_object_of_integer_offsets_and_symbols()
    {
        var (code, output, error) = await RunAsync("windows", "profile", "--isf", Win7Isf);

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.That(root.GetProperty("EPROCESS.UniqueProcessId").GetInt64(), Is.EqualTo(0x180));
        Assert.That(root.GetProperty("KTHREAD.ApcState.Process").GetInt64(), Is.EqualTo(0x70));
        Assert.That(root.GetProperty("ETHREAD.Cid").GetInt64(), Is.EqualTo(0x3b8));
        Assert.That(root.GetProperty("KiSystemCall64").GetInt64(), Is.EqualTo(662272));
        Assert.That(root.EnumerateObject().Select(p => p.Value.ValueKind), Is.All.EqualTo(JsonValueKind.Number));
    }

    [Test]
    public async Task Profile_as_a_table_shows_hex_values()
    {
        var (code, output, _) = await RunAsync("windows", "profile", "--isf", Win7Isf, "--format", "table");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok));
        Assert.That(output, Does.Contain("EPROCESS.ActiveProcessLinks").And.Contain("0x188"));
    }

    [Test]
    public async Task Profile_of_a_truncated_table_fails_with_one_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nitro-cli-{Guid.NewGuid():N}.json.xz");
        try
        {
            var bytes = await File.ReadAllBytesAsync(Win7Isf);
            await File.WriteAllBytesAsync(path, bytes[..1000]);
            var (code, output, error) = await RunAsync("windows", "profile", "--isf", path);

            Assert.That(code, Is.Not.EqualTo(NitroCommand.Ok));
            Assert.That(output, Is.Empty);
            Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(error, Does.Contain(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task Profile_of_an_unknown_build_fails_with_one_line()
    {
        var (code, output, error) = await RunAsync("windows", "profile", "--build", "9600");

        Assert.That(code, Is.Not.EqualTo(NitroCommand.Ok));
        Assert.That(output, Is.Empty);
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.Contain("9600"));
    }

    [Test]
    public async Task Profile_of_a_known_build_prints_its_built_in_offsets()
    {
        var (code, output, error) = await RunAsync("windows", "profile", "--build", "26100");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        using var json = JsonDocument.Parse(output);
        Assert.That(json.RootElement.GetProperty("EPROCESS.UniqueProcessId").GetInt64(), Is.EqualTo(0x1d0));
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await NitroCommand.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string WineFile(string name)
    {
        if (s_wine.Value is not { } directory)
        {
            const string why = "Wine's DLLs are not cached and fetch-wine.sh could not fetch them (apt-get download libwine).";
            if (string.Equals(Environment.GetEnvironmentVariable("NITRO_WINE"), "required", StringComparison.Ordinal))
            {
                Assert.Fail(why + " NITRO_WINE=required, so this fails instead of skipping.");
            }

            Assert.Ignore(why);
            return string.Empty;
        }

        return Path.Combine(directory, name);
    }

    private static string? FindWine()
    {
        var configured = Environment.GetEnvironmentVariable("NITRO_WINE_DIR");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(Path.Combine(configured, "ntdll.dll")) ? configured : null;
        }

        var script = Path.Combine(TestGuest.RepositoryRoot, "tests", "Nitro.Backends.Windows.Tests", "fetch-wine.sh");
        var (exitCode, stdout, _) = ProcessRunner.Run("bash", TimeSpan.FromMinutes(5), script);
        var found = stdout.Trim();
        return exitCode == 0 && File.Exists(Path.Combine(found, "ntdll.dll")) ? found : null;
    }
}
