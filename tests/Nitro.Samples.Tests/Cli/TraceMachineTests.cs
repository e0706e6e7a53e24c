using System.Text.Json;
using Nitro.Backends.Linux.Tracing;
using Nitro.Backends.Windows.Tracing;
using Nitro.Cli;
using Nitro.Cli.Live;
using Nitro.Kvm.Tests.Libvirt;
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
    public async Task Windows_needs_a_machine_symbols_must_exist_and_the_boot_timeout_be_positive()
    {
        var (code, _, error) = await RunAsync("trace", "--kernel", "bzImage", "--os", "windows");
        Assert.That(code, Is.EqualTo(NitroCommand.UsageError));
        Assert.That(error, Does.Contain("Windows guest boots from its disk image").And.Contain("--machine"));

        var missing = Path.Combine(Path.GetTempPath(), "nitro-no-such-symbols-" + Guid.NewGuid().ToString("N"));
        (code, _, error) = await RunAsync("record", "--machine", "win10", "--conf", "conf/qemu.conf", "--symbols", missing);
        Assert.That(code, Is.EqualTo(NitroCommand.UsageError));
        Assert.That(error, Does.Contain(missing).And.Contain("does not exist"));

        (code, _, error) = await RunAsync("trace", "--kernel", "bzImage", "--boot-timeout", "0");
        Assert.That(code, Is.EqualTo(NitroCommand.UsageError));
        Assert.That(error, Does.Contain("--boot-timeout must be a positive number of seconds"));
    }

    [Test]
    public void The_machines_platform_picks_the_back_end_and_os_overrides_it()
    {
        Assert.That(LiveSession.BackendFor(GuestOs.Auto, "linux", null, "m"), Is.SameAs(LinuxBackendFactory.Default));
        Assert.That(LiveSession.BackendFor(GuestOs.Auto, null, null, "m"), Is.SameAs(LinuxBackendFactory.Default));
        var windows = LiveSession.BackendFor(GuestOs.Auto, "Windows", "/srv/symbols", "m");
        Assert.That(windows, Is.TypeOf<WindowsBackendFactory>());
        Assert.That(((WindowsBackendFactory)windows).SymbolsDirectory, Is.EqualTo("/srv/symbols"));
        Assert.That(LiveSession.BackendFor(GuestOs.Linux, "windows", null, "m"), Is.SameAs(LinuxBackendFactory.Default));
        Assert.That(LiveSession.BackendFor(GuestOs.Windows, "linux", null, "m"), Is.TypeOf<WindowsBackendFactory>());
        Assert.That(
            () => LiveSession.BackendFor(GuestOs.Auto, "darwin", null, "mac1"),
            Throws.ArgumentException.With.Message.Contains("machine 'mac1' has platform 'darwin'").And.Message.Contains("--os"));
    }

    // No Windows image can be had here: this runs the whole --os windows path (machinery start, the
    // Windows back end's scan of guest memory through the trap plugin, the error, the stop) on the
    // Linux test guest, which a configuration mislabels as Windows.
    [Test]
    [Category("Integration")]
    [CancelAfter(240_000)]
    public async Task A_machine_labelled_windows_is_scanned_for_a_windows_kernel_and_refused_clearly_when_it_has_none()
    {
        var conf = Directory.CreateTempSubdirectory("nitro-trace-windows-").FullName;
        try
        {
            var path = await WriteQemuConfAsync(conf, "not-windows", "windows", "quiet panic=-1 nitro.workload=\"sleep 60\"");

            var (code, output, error) = await RunAsync("trace", "--machine", "not-windows", "--conf", path, "--listener", "plugin", "--syscall", "NtCreateFile", "--boot-timeout", "10", "--timeout", "60");

            Assert.That(code, Is.EqualTo(NitroCommand.Failure), error);
            Assert.That(error, Does.Contain("could not start tracing: not-windows could not be traced as a Windows guest within 10 s: No Windows x64 page-table root"), error);
            Assert.That(output, Is.Empty);
            Assert.That(QemuGone("not-windows"), Is.True, "the machinery stopped the machine");
        }
        finally
        {
            Directory.Delete(conf, recursive: true);
        }
    }

    [Test]
    [Category("Integration")]
    [CancelAfter(240_000)]
    public async Task Traces_a_machine_the_qemu_machinery_starts_and_stops_it()
    {
        var conf = Directory.CreateTempSubdirectory("nitro-trace-machine-").FullName;
        try
        {
            var path = await WriteQemuConfAsync(conf, "traced-guest", "linux", "quiet panic=-1 nitro.wait");

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

    /// <param name="listener">
    /// gdbstub: the domain opens a gdbstub and the CLI falls back to it (auto); plugin: the domain's
    /// QEMU loads the trap plugin (no ram=, no gdbstub) and the CLI must trace through it.
    /// </param>
    /// <param name="cancellationToken">Ends the test at its timeout.</param>
    /// <param name="memoryMiB">The guest's RAM: 256 MiB in one piece, or 4 GiB, of which QEMU puts 1 GiB at 4 GiB (the kernel allocates from the top).</param>
    [TestCase("gdbstub", 256)]
    [TestCase("plugin", 4096, TestName = "Traces_a_libvirt_domain_with_RAM_above_4_GiB_through_the_plugin")]
    [Category("Integration")]
    [CancelAfter(420_000)]
    public async Task Traces_a_libvirt_domain_the_kvm_machinery_reverts_to_its_snapshot_and_stops_it(string listener, int memoryMiB, CancellationToken cancellationToken)
    {
        LocalLibvirtDomain.RequireDaemon(LocalLibvirtDomain.SystemUri);
        var plugin = listener is "plugin" ? Nitro.Kvm.Plugin.TrapPlugin.EnsureBuilt() : null;
        using var domain = await LocalLibvirtDomain.CreateAsync("cat /etc/hostname; echo libvirt-traced > /tmp/marker", cancellationToken, plugin, memoryMiB);
        var conf = Directory.CreateTempSubdirectory("nitro-trace-domain-").FullName;
        try
        {
            var path = domain.WriteConfiguration(conf, "kvm", LocalLibvirtDomain.SystemUri);

            string[] choice = plugin is null ? [] : ["--listener", "plugin"];
            var (code, output, error) = await RunAsync(["trace", "--machine", domain.Name, "--conf", path, "--format", "jsonl", "--timeout", "240", .. choice]);

            Assert.That(code, Is.EqualTo(NitroCommand.Ok), error);
            var calls = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var opens = calls.Where(c => c.GetProperty("direction").GetString() == "enter" && c.GetProperty("name").GetString() == "openat")
                .Select(c => (Process: c.GetProperty("process").GetProperty("name").GetString(), Path: c.GetProperty("decoded").GetProperty("pathname").GetString()))
                .ToList();
            Assert.That(opens, Does.Contain(("cat", (string?)"/etc/hostname")), "cat opened /etc/hostname");
            Assert.That(opens, Does.Contain(("sh", (string?)"/tmp/marker")), "the shell opened the redirection target");
            var writes = calls.Where(c => c.GetProperty("direction").GetString() == "exit" && c.GetProperty("name").GetString() == "write" && c.GetProperty("process").GetProperty("name").GetString() == "sh")
                .Select(c => c.GetProperty("return").GetInt64());
            Assert.That(writes, Does.Contain("libvirt-traced\n".Length), "echo wrote its line");
            Assert.That(error, Does.Contain("calls from"), "the statistics line");
            Assert.That(
                calls.Where(c => c.GetProperty("process").ValueKind != JsonValueKind.Object || string.IsNullOrEmpty(c.GetProperty("process").GetProperty("name").GetString())).Select(c => c.ToString()).Take(3),
                Is.Empty,
                "every call's process was read (wherever in RAM the kernel keeps it)");

            // The workload powers the guest off; the machinery stopped the domain in any case.
            using var connection = Nitro.Kvm.Libvirt.LibvirtConnection.Open(LocalLibvirtDomain.SystemUri);
            using var stopped = connection.LookupDomain(domain.Name);
            Assert.That(stopped.GetState().State, Is.EqualTo(Nitro.Kvm.Libvirt.DomainState.Shutoff));
            Assert.That(File.ReadAllText(domain.ConsoleLogPath), Does.Not.Contain("NITRO-GUEST-READY"), "the guest resumed from the snapshot instead of booting");
            if (plugin is not null)
            {
                Assert.That(error, Does.Contain("through the trap plugin"), "the statistics line names the listener");
                Assert.That(error, Does.Contain(", 0 lost"), "the plugin lost no trap");
                Assert.That(File.Exists(domain.PluginControlPath), Is.False, "QEMU's exit removed the plugin's control file");
            }
        }
        finally
        {
            Directory.Delete(conf, recursive: true);
        }
    }

    /// <summary>Writes conf/qemu.conf with one machine that boots the test guest; returns its path.</summary>
    private static async Task<string> WriteQemuConfAsync(string directory, string label, string platform, string append)
    {
        var (kernel, initrd) = TestGuest.Default;
        var path = Path.Combine(directory, "qemu.conf");
        await File.WriteAllTextAsync(path, $"""
            [qemu]
            machines = guest1

            [guest1]
            label = {label}
            platform = {platform}
            ip = 10.0.2.15
            kernel = {kernel}
            initrd = {initrd}
            append = {append}
            """);
        return path;
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
