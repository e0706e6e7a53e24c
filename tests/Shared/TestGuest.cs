using System.Diagnostics;

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
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(RepositoryRoot, "guest", "build.sh"));
        if (extraDirectory is not null)
        {
            start.ArgumentList.Add("--extra");
            start.ArgumentList.Add(extraDirectory);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(true);
            throw new InvalidOperationException("guest/build.sh did not finish within 5 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"guest/build.sh failed ({process.ExitCode}): {stderr.Result}");
        }

        string? kernel = null, initrd = null;
        foreach (var line in stdout.Result.Split('\n'))
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
