namespace Nitro.Tests.Shared;

/// <summary>
/// Builds a test guest whose workload runs a program compiled here with gcc (static, C by
/// default): the program is packed into the initramfs under one or more names (the names become
/// the processes' <c>comm</c>), next to a <c>/workload.sh</c>.
/// </summary>
internal static class ProbeImage
{
    /// <param name="source">The program's source.</param>
    /// <param name="names">The names it is packed under (at least one).</param>
    /// <param name="workload">The body of /workload.sh.</param>
    /// <param name="sourceFileName">The source file's name; its extension tells gcc the language (<c>.c</c>, <c>.S</c>).</param>
    /// <param name="gccOptions">Options before <c>-o</c>; <c>-static -O1</c> when none are given.</param>
    public static (string Kernel, string Initrd) Build(string source, IReadOnlyList<string> names, string workload, string sourceFileName = "probe.c", params string[] gccOptions)
    {
        var root = Directory.CreateTempSubdirectory("nitro-probe-").FullName;
        try
        {
            var file = Path.Combine(root, sourceFileName);
            File.WriteAllText(file, source);
            var extra = Path.Combine(root, "extra");
            Directory.CreateDirectory(extra);
            var first = Path.Combine(extra, names[0]);
            Run("gcc", [.. gccOptions.Length == 0 ? ["-static", "-O1"] : gccOptions, "-o", first, file]);
            foreach (var name in names.Skip(1))
            {
                File.Copy(first, Path.Combine(extra, name));
            }

            var script = Path.Combine(extra, "workload.sh");
            File.WriteAllText(script, "#!/bin/sh\n" + workload + "\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            return TestGuest.Build(extra);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Parses the <c>key=value</c> fields after <paramref name="marker"/> in a line a probe printed.</summary>
    public static IReadOnlyDictionary<string, long> ParseReport(string line, string marker) =>
        line[(line.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(f => f.Split('=', 2))
            .ToDictionary(f => f[0], f => long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private static void Run(string program, params string[] arguments)
    {
        var (exitCode, _, error) = ProcessRunner.Run(program, TimeSpan.FromMinutes(2), arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({exitCode}): {error}");
        }
    }
}
