using Nitro.Tests.Shared;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Nitro.Kvm.Tests.Nitro;

namespace Nitro.Kvm.Tests.Libvirt;

/// <summary>
/// Compares <c>Interop.Libvirt.VirError</c> with <c>struct _virError</c> from libvirt's own header,
/// compiled by gcc (needs gcc and the libvirt-dev package; ignored with the reason otherwise).
/// </summary>
[NonParallelizable]
public sealed class LibvirtNativeLayoutTests
{
    private const string Header = "/usr/include/libvirt/virterror.h";

    private const string Source = """
        #define VIR_DEPRECATED
        #include <stddef.h>
        #include <stdio.h>
        #include <libvirt/virterror.h>
        int main(void)
        {
            printf("size %zu\n", sizeof(virError));
            printf("Code %zu\n", offsetof(virError, code));
            printf("Domain %zu\n", offsetof(virError, domain));
            printf("Message %zu\n", offsetof(virError, message));
            printf("Level %zu\n", offsetof(virError, level));
            printf("Conn %zu\n", offsetof(virError, conn));
            printf("Dom %zu\n", offsetof(virError, dom));
            printf("Str1 %zu\n", offsetof(virError, str1));
            printf("Str2 %zu\n", offsetof(virError, str2));
            printf("Str3 %zu\n", offsetof(virError, str3));
            printf("Int1 %zu\n", offsetof(virError, int1));
            printf("Int2 %zu\n", offsetof(virError, int2));
            printf("Net %zu\n", offsetof(virError, net));
            return 0;
        }
        """;

    private Dictionary<string, int> _facts = [];

    [OneTimeSetUp]
    public void CompileAndRun()
    {
        var gcc = NativeLayoutProgram.FindGcc();
        if (gcc is null)
        {
            Assert.Ignore("gcc not found on PATH: the virError layout check compiles a C program (install gcc to run it).");
        }

        if (!File.Exists(Header))
        {
            Assert.Ignore($"{Header} is missing: apt-get install libvirt-dev to compare the virError layout with libvirt's header.");
        }

        var directory = Directory.CreateTempSubdirectory("nitro-virerror-").FullName;
        try
        {
            var source = Path.Combine(directory, "virerror_layout.c");
            var executable = Path.Combine(directory, "virerror_layout");
            File.WriteAllText(source, Source);
            var (exitCode, output) = Run(gcc, "-std=gnu11", "-Wall", "-Werror", "-o", executable, source);
            Assert.That(exitCode, Is.Zero, $"gcc failed on {source}:\n{output}");
            (exitCode, output) = Run(executable);
            Assert.That(exitCode, Is.Zero, output);
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ');
                _facts.Add(parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public void VirError_size_matches_the_header()
    {
        Assert.That(Marshal.SizeOf<Interop.Libvirt.VirError>(), Is.EqualTo(_facts["size"]));
    }

    [TestCase("Code")]
    [TestCase("Domain")]
    [TestCase("Message")]
    [TestCase("Level")]
    [TestCase("Conn")]
    [TestCase("Dom")]
    [TestCase("Str1")]
    [TestCase("Str2")]
    [TestCase("Str3")]
    [TestCase("Int1")]
    [TestCase("Int2")]
    [TestCase("Net")]
    public void VirError_field_offset_matches_the_header(string field)
    {
        Assert.That((int)Marshal.OffsetOf<Interop.Libvirt.VirError>(field), Is.EqualTo(_facts[field]));
    }

    private static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var (exitCode, output, error) = ProcessRunner.Run(file, TimeSpan.FromSeconds(60), arguments);
        return (exitCode, output + error);
    }
}
