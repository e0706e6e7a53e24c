using System.Diagnostics;

namespace Nitro.Cli.Demo;

/// <summary>The repository's bundled guest (guest/build.sh) and recorded trace (samples/traces), found from the tool's own location.</summary>
internal static class BundledGuest
{
    public static string? RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Nitro.Reactive.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }

    public static string? Trace() => RepositoryRoot() is { } root ? Path.Combine(root, "samples", "traces", "demo.nitrotrace") : null;

    public static bool QemuAvailable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "qemu-system-x86_64")))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Runs guest/build.sh (cached after the first run) and returns the kernel and initramfs it printed.</summary>
    /// <exception cref="InvalidOperationException">The script is missing or failed; the message says why.</exception>
    public static async Task<(string Kernel, string Initrd)> BuildAsync(CancellationToken cancellationToken)
    {
        var root = RepositoryRoot() ?? throw new InvalidOperationException(
            $"the repository (Nitro.Reactive.sln) was not found above {AppContext.BaseDirectory}; run the demo from a clone, or use 'nitro trace --kernel … --initrd …'.");
        var script = Path.Combine(root, "guest", "build.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        start.ArgumentList.Add(script);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash for " + script);
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed with exit code {process.ExitCode}: {(await stderr).Trim()}");
        }

        string? kernel = null, initrd = null;
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("KERNEL=", StringComparison.Ordinal))
            {
                kernel = line["KERNEL=".Length..];
            }
            else if (line.StartsWith("INITRD=", StringComparison.Ordinal))
            {
                initrd = line["INITRD=".Length..];
            }
        }

        return kernel is not null && initrd is not null
            ? (kernel, initrd)
            : throw new InvalidOperationException($"{script} printed no KERNEL= and INITRD= lines.");
    }
}
