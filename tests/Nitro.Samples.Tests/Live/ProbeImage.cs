using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// Builds a test guest whose workload runs C programs compiled here with <c>gcc -static</c>:
/// each program is packed into the initramfs under one or more names (the names become the
/// processes' <c>comm</c>), next to a <c>/workload.sh</c>.
/// </summary>
internal static class ProbeImage
{
    public static (string Kernel, string Initrd) Build(string source, IReadOnlyList<string> names, string workload)
    {
        var root = Directory.CreateTempSubdirectory("nitro-probe-").FullName;
        try
        {
            var file = Path.Combine(root, "probe.c");
            File.WriteAllText(file, source);
            var extra = Path.Combine(root, "extra");
            Directory.CreateDirectory(extra);
            var first = Path.Combine(extra, names[0]);
            Run("gcc", "-static", "-O1", "-o", first, file);
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

    private static void Run(string program, params string[] arguments)
    {
        var (exitCode, _, error) = ProcessRunner.Run(program, TimeSpan.FromMinutes(2), arguments);
        if (exitCode != 0)
        {
            Assert.Fail($"{program} failed: {error}");
        }
    }
}
