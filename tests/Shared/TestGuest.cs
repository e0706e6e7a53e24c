
namespace Nitro.Tests.Shared;

/// <summary>Builds (or finds in its cache) the test guest with guest/build.sh.</summary>
internal static class TestGuest
{
    private static readonly Lazy<(string Kernel, string Initrd)> s_default = new(() => Build(null));

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Nitro.Reactive.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Nitro.Reactive.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static (string Kernel, string Initrd) Default => s_default.Value;

    public static (string Kernel, string Initrd) Build(string? extraDirectory)
    {
        string[] arguments = extraDirectory is null
            ? [Path.Combine(RepositoryRoot, "guest", "build.sh")]
            : [Path.Combine(RepositoryRoot, "guest", "build.sh"), "--extra", extraDirectory];
        var (exitCode, stdout, stderr) = ProcessRunner.Run("bash", TimeSpan.FromMinutes(5), arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"guest/build.sh failed ({exitCode}): {stderr}");
        }

        string? kernel = null, initrd = null;
        foreach (var line in stdout.Split('\n'))
        {
            if (line.StartsWith("KERNEL=", StringComparison.Ordinal))
            {
                kernel = line[7..];
            }
            else if (line.StartsWith("INITRD=", StringComparison.Ordinal))
            {
                initrd = line[7..];
            }
        }

        return (kernel ?? throw new InvalidOperationException("no KERNEL= line"), initrd ?? throw new InvalidOperationException("no INITRD= line"));
    }
}
