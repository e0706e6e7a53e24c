using System.Diagnostics;
using System.Globalization;
using System.Text;
using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

/// <summary>
/// Compares every named constant of the decoder with the host's C headers (x86-64 Linux, gcc):
/// errno and signal numbers, open / mmap / clone / AT_ / socket / wait flags, and the layouts of
/// struct open_how and struct clone_args.
/// </summary>
[Category("Native")]
public sealed class NativeConstantsTests
{
    private const string Headers = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <errno.h>
        #include <signal.h>
        #include <fcntl.h>
        #include <sched.h>
        #include <linux/sched.h>
        #include <linux/openat2.h>
        #include <sys/mman.h>
        #include <sys/socket.h>
        #include <netinet/in.h>
        #include <sys/wait.h>
        #include <unistd.h>
        """;

    private static string? s_gcc;

    [OneTimeSetUp]
    public void FindCompiler()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':'))
        {
            var candidate = Path.Combine(directory, "gcc");
            if (File.Exists(candidate))
            {
                s_gcc = candidate;
                return;
            }
        }
    }

    [Test]
    public void Named_constants_match_the_C_headers()
    {
        var expected = ExpectedConstants();
        var actual = RunC(expected.Keys);

        Assert.That(actual, Has.Count.GreaterThan(250), "the headers should define most names (a vacuous comparison proves nothing)");
        using (Assert.EnterMultipleScope())
        {
            foreach (var (name, value) in actual)
            {
                Assert.That(expected[name], Is.EqualTo(value), name);
            }
        }
    }

    [Test]
    public void Structure_layouts_match_the_C_headers()
    {
        var program = Headers + """

            int main(void) {
                printf("open_how %zu\n", sizeof(struct open_how));
                printf("clone_args %zu\n", sizeof(struct clone_args));
                printf("clone_args.exit_signal %zu\n", offsetof(struct clone_args, exit_signal));
                printf("clone_args.stack %zu\n", offsetof(struct clone_args, stack));
                printf("clone_args.stack_size %zu\n", offsetof(struct clone_args, stack_size));
                printf("clone_args.tls %zu\n", offsetof(struct clone_args, tls));
                printf("clone_args.set_tid_size %zu\n", offsetof(struct clone_args, set_tid_size));
                printf("clone_args.cgroup %zu\n", offsetof(struct clone_args, cgroup));
                printf("sockaddr_in6.sin6_scope_id %zu\n", offsetof(struct sockaddr_in6, sin6_scope_id));
                return 0;
            }
            """;
        var layout = Run(program);
        Assert.That(layout, Is.EquivalentTo(new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["open_how"] = 24,
            ["clone_args"] = 88,
            ["clone_args.exit_signal"] = 32,
            ["clone_args.stack"] = 40,
            ["clone_args.stack_size"] = 48,
            ["clone_args.tls"] = 56,
            ["clone_args.set_tid_size"] = 72,
            ["clone_args.cgroup"] = 80,
            ["sockaddr_in6.sin6_scope_id"] = 24,
        }));
    }

    private static Dictionary<string, long> ExpectedConstants()
    {
        var expected = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["O_RDONLY"] = 0, ["O_WRONLY"] = 1, ["O_RDWR"] = 2,
            ["MAP_SHARED"] = 1, ["MAP_PRIVATE"] = 2, ["MAP_SHARED_VALIDATE"] = 3,
            ["AT_FDCWD"] = -100, ["PROT_NONE"] = 0, ["F_OK"] = 0,
        };
        FlagTable[] tables =
        [
            LinuxFlags.Open, LinuxFlags.FileStatus, LinuxFlags.Prot, LinuxFlags.Map, LinuxFlags.Clone3, LinuxFlags.At,
            LinuxFlags.Unlinkat, LinuxFlags.Rename, LinuxFlags.Resolve, LinuxFlags.SocketFlags, LinuxFlags.WaitOptions, LinuxFlags.Access,
        ];
        foreach (var table in tables)
        {
            foreach (var (mask, name) in table.Entries)
            {
                expected[name] = (long)mask;
            }
        }

        for (var i = 1; i < 1024; i++)
        {
            if (LinuxErrno.GetName(i) is { } errno)
            {
                expected[errno] = i;
            }
        }

        for (var i = 1; i < LinuxSignals.RealTimeMin; i++)
        {
            expected[LinuxSignals.GetName(i)!] = i;
        }

        for (var i = 0; i < 64; i++)
        {
            AddNamed(expected, LinuxFlags.SocketFamily(i), i);
            AddNamed(expected, LinuxFlags.Whence(i), i);
            AddNamed(expected, LinuxFlags.SocketType.Render((ulong)i), i);
        }

        for (var i = 0; i < 2048; i++)
        {
            AddNamed(expected, LinuxFlags.SocketProtocol(2, i), i);
            // glibc on x86-64 defines F_GETLK64 & co. as the 64-bit F_GETLK; the decoder names the kernel's compat values.
            if (!LinuxFlags.FcntlCommand(i).EndsWith("64", StringComparison.Ordinal))
            {
                AddNamed(expected, LinuxFlags.FcntlCommand(i), i);
            }
        }

        // glibc defines O_LARGEFILE as 0 for 64-bit programs; the kernel's bit (0100000) is what ia32 callers pass.
        expected.Remove("O_LARGEFILE");
        return expected;
    }

    private static void AddNamed(Dictionary<string, long> expected, string rendered, int value)
    {
        if (!char.IsAsciiDigit(rendered[0]) && !rendered.Contains('|', StringComparison.Ordinal))
        {
            expected[rendered] = value;
        }
    }

    private static Dictionary<string, long> RunC(IEnumerable<string> names)
    {
        var program = new StringBuilder(Headers).AppendLine().AppendLine("int main(void) {");
        foreach (var name in names)
        {
            program.Append(CultureInfo.InvariantCulture, $"#ifdef {name}\n    printf(\"{name} %lld\\n\", (long long)({name}));\n#endif\n");
        }

        program.AppendLine("    return 0;").AppendLine("}");
        return Run(program.ToString());
    }

    private static Dictionary<string, long> Run(string source)
    {
        if (s_gcc is null)
        {
            Assert.Ignore("gcc is not installed: the constants cannot be compared with the C headers.");
        }

        var directory = Directory.CreateTempSubdirectory("nitro-decoding-");
        try
        {
            var sourcePath = Path.Combine(directory.FullName, "constants.c");
            var binaryPath = Path.Combine(directory.FullName, "constants");
            File.WriteAllText(sourcePath, source);
            var (compileCode, _, compileErrors) = Execute(s_gcc!, $"-o {binaryPath} {sourcePath}");
            Assert.That(compileCode, Is.Zero, compileErrors);
            var (code, output, errors) = Execute(binaryPath, string.Empty);
            Assert.That(code, Is.Zero, errors);

            var values = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                values[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
            }

            return values;
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static (int Code, string Output, string Errors) Execute(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill();
            Assert.Fail($"{file} did not finish within 60 s.");
        }

        return (process.ExitCode, output.Result, errors);
    }
}
