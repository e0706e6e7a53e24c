using Nitro.Tests.Shared;
using System.Diagnostics;
using System.Globalization;

namespace Nitro.Kvm.Tests.Nitro;

/// <summary>Builds Native/nitro_layout.c with gcc into a temporary directory and runs it.</summary>
internal sealed class NativeLayoutProgram : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private readonly string _directory;

    private NativeLayoutProgram(string directory, string executable)
    {
        _directory = directory;
        Executable = executable;
    }

    public string Executable { get; }

    public static string? FindGcc()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "gcc");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static NativeLayoutProgram Build(string gcc)
    {
        var source = Path.Combine(TestContext.CurrentContext.TestDirectory, "Nitro", "Native", "nitro_layout.c");
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"The C layout program was not copied to the test output: {source}.", source);
        }

        var directory = Directory.CreateTempSubdirectory("nitro-layout-").FullName;
        var executable = Path.Combine(directory, "nitro_layout");
        var (exitCode, output, error) = Run(gcc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", executable, source);
        if (exitCode != 0)
        {
            Directory.Delete(directory, recursive: true);
            throw new InvalidOperationException($"gcc failed on {source} (exit {exitCode}):\n{output}{error}");
        }

        return new NativeLayoutProgram(directory, executable);
    }

    /// <summary>Runs the program without arguments and parses "key value" lines.</summary>
    public Dictionary<string, string> Facts()
    {
        var output = RunChecked();
        var facts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var last = line.LastIndexOf(' ');
            facts.Add(line[..last], line[(last + 1)..]);
        }

        return facts;
    }

    /// <summary>Runs "sample NAME" and returns the bytes of the filled C struct.</summary>
    public byte[] Sample(string name) => Convert.FromHexString(RunChecked("sample", name).Trim());

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string RunChecked(params string[] arguments)
    {
        var (exitCode, output, error) = Run(Executable, arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{Executable} {string.Join(' ', arguments)} failed (exit {exitCode}): {error}");
        }

        return output;
    }

    private static (int ExitCode, string Output, string Error) Run(string file, params string[] arguments) =>
        ProcessRunner.Run(file, s_timeout, arguments);
}
