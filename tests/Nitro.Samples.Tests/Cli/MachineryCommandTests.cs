using System.Runtime.InteropServices;
using Nitro.Cli;

namespace Nitro.Samples.Tests.Cli;

/// <summary><c>nitro machines|start|stop</c> on libvirt's in-process test driver.</summary>
[NonParallelizable]
public sealed class MachineryCommandTests
{
    private string _conf = null!;

    [SetUp]
    public void WriteConf()
    {
        if (!NativeLibrary.TryLoad("libvirt.so.0", out _))
        {
            Assert.Ignore("libvirt.so.0 cannot be loaded: apt-get install libvirt0.");
        }

        _conf = Directory.CreateTempSubdirectory("nitro-conf-").FullName;
        File.WriteAllText(Path.Combine(_conf, "libvirt.conf"), """
            [libvirt]
            dsn = test:///default
            machines = sandbox1

            [sandbox1]
            label = test
            platform = linux
            ip = 192.168.56.101
            tags = x64
            """);
    }

    [TearDown]
    public void RemoveConf() => Directory.Delete(_conf, recursive: true);

    [Test]
    public async Task Machines_lists_labels_and_states()
    {
        var (code, output, error) = await RunAsync("machines", "--conf", Path.Combine(_conf, "libvirt.conf"));
        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output, Does.Match(@"test\s*│\s*linux\s*│\s*192\.168\.56\.101\s*│\s*x64\s*│\s*-\s*│\s*Running"));
    }

    [Test]
    public async Task Stop_reports_the_new_state()
    {
        var (code, output, error) = await RunAsync("stop", "test", "--conf", Path.Combine(_conf, "libvirt.conf"));
        Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
        Assert.That(output.Trim(), Is.EqualTo("test: PoweredOff"));
    }

    [Test]
    public async Task Unknown_label_and_unknown_module_are_clear_errors()
    {
        var (code, _, error) = await RunAsync("start", "nope", "--conf", Path.Combine(_conf, "libvirt.conf"));
        Assert.That(code, Is.EqualTo(NitroCommand.Failure));
        Assert.That(error, Does.Contain("'nope'").And.Contain("test"));

        File.Copy(Path.Combine(_conf, "libvirt.conf"), Path.Combine(_conf, "vbox.conf"));
        (code, _, error) = await RunAsync("machines", "--conf", Path.Combine(_conf, "vbox.conf"));
        Assert.That(code, Is.EqualTo(NitroCommand.UsageError));
        Assert.That(error, Does.Contain("vbox").And.Contain("kvm, libvirt"));
    }

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await NitroCommand.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
