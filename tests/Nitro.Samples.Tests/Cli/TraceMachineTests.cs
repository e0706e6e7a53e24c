using System.Text.Json;
using Nitro.Cli;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Cli;

/// <summary><c>nitro trace --machine LABEL --conf conf/qemu.conf</c>: start through the machinery, trace, stop.</summary>
public sealed class TraceMachineTests
{
    [Test]
    public async Task Machine_without_conf_and_no_guest_at_all_are_usage_errors()
    {
        var (code, _, error) = await RunAsync("trace", "--machine", "guest1");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--conf"));

        (code, _, error) = await RunAsync("trace");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("--kernel"));
    }

    [Test]
    [Category("Integration")]
    [CancelAfter(240_000)]
    public async Task Traces_a_machine_the_qemu_machinery_starts_and_stops_it()
    {
        var (kernel, initrd) = TestGuest.Default;
        var conf = Directory.CreateTempSubdirectory("nitro-trace-machine-").FullName;
        try
        {
            var path = Path.Combine(conf, "qemu.conf");
            await File.WriteAllTextAsync(path, $"""
                [qemu]
                machines = guest1

                [guest1]
                label = traced-guest
                platform = linux
                ip = 10.0.2.15
                kernel = {kernel}
                initrd = {initrd}
                append = quiet panic=-1 nitro.wait
                """);

            var (code, output, error) = await RunAsync("trace", "--machine", "traced-guest", "--conf", path, "--syscall", "execve", "--format", "jsonl", "--timeout", "180");

            Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
            var calls = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.That(calls.Select(c => c.GetProperty("name").GetString()), Is.All.EqualTo("execve"));
            Assert.That(calls.Any(c => c.GetProperty("decoded").TryGetProperty("argv", out var argv) && argv.EnumerateArray().Any(a => a.GetString() == "/etc/shadow")), Is.True, "the default workload runs cat /etc/shadow");
            Assert.That(QemuGone("traced-guest"), Is.True, "the machinery stopped the machine");
        }
        finally
        {
            Directory.Delete(conf, recursive: true);
        }
    }

    private static bool QemuGone(string name) => Nitro.Kvm.Nitro.QemuProcessFinder.FromProcessList(name) is null;

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await NitroCommand.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
