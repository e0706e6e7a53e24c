using Nitro.Cli;
using Nitro.Kvm.Targets;

namespace Nitro.Samples.Tests.Cli;

/// <summary><c>nitro plugin</c>: the built trap plugin, installed for another user's QEMU, and a libvirt domain's XML for it.</summary>
public sealed class PluginCommandTests
{
    [Test]
    public async Task Prints_the_path_of_the_built_plugin()
    {
        var (code, output, error) = await RunAsync("plugin");

        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        var path = output.Trim();
        Assert.That(Path.GetFileName(path), Is.EqualTo("libnitro-trap.so"));
        Assert.That(File.ReadAllBytes(path)[..4], Is.EqualTo("\u007fELF"u8.ToArray()), "a shared object");
    }

    [Test]
    public async Task Installs_the_plugin_readable_by_all_and_prints_the_libvirt_commandline_that_loads_it()
    {
        var directory = Directory.CreateTempSubdirectory("nitro-plugin-install-").FullName;
        try
        {
            var target = Path.Combine(directory, "lib");
            var (code, output, error) = await RunAsync("plugin", "--install", target, "--ctl", "/run/nitro/vm1.ctl");

            Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
            var installed = Path.Combine(target, "libnitro-trap.so");
            Assert.That(File.GetUnixFileMode(installed) & UnixFileMode.OtherRead, Is.EqualTo(UnixFileMode.OtherRead));

            // The printed element, pasted into a domain, is what the tracer then finds.
            var description = TraceableDomainDescription.Parse($"<domain><name>vm1</name><memory>1024</memory>{output}</domain>");
            Assert.That(description.PluginControlPath, Is.EqualTo("/run/nitro/vm1.ctl"));
            Assert.That(output, Does.Contain($"value=\"{installed},ctl=/run/nitro/vm1.ctl\""));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task A_control_path_with_a_comma_is_a_usage_error()
    {
        var (code, _, error) = await RunAsync("plugin", "--ctl", "/run/a,b.ctl");

        Assert.That(code, Is.EqualTo(NitroCommand.UsageError));
        Assert.That(error, Does.Contain("cannot take a path with a comma"));
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await NitroCommand.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
