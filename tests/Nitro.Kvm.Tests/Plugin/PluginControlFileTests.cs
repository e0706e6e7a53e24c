using System.Diagnostics;
using Nitro.Kvm.Memory;
using Nitro.Kvm.Plugin;
using Nitro.Reactive.Memory;
using Nitro.Tests.Shared;

namespace Nitro.Kvm.Tests.Plugin;

/// <summary>
/// The control file's life with a real QEMU that loads the real plugin (no guest: <c>-M none -S</c>):
/// what a killed QEMU leaves behind, a file that is not ours, and a plugin without a RAM file.
/// </summary>
[Category("Integration")]
[CancelAfter(120_000)]
public sealed class PluginControlFileTests
{
    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("nitro-ctl-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task A_control_file_a_killed_QEMU_left_is_refused_by_the_host_and_replaced_by_the_next_QEMU()
    {
        var control = Path.Combine(_directory, "trap.ctl");
        using (var first = BareQemu.Start(control))
        {
            await first.WaitForControlFileAsync();
            first.Kill(); // SIGKILL: the plugin's exit callback never runs
        }

        Assert.That(File.Exists(control), Is.True, "a killed QEMU leaves its control file");
        var stale = Assert.ThrowsAsync<TrapPluginException>(() => PluginListener.ConnectAsync(control, new ArrayGuestMemory(4096), null, TimeSpan.FromMilliseconds(300)));
        Assert.That(stale!.Message, Does.Contain("left behind by QEMU process").And.Contain("which is gone"));

        using var second = BareQemu.Start(control);
        await second.WaitForControlFileAsync();
        using (var memory = new ProcessMemoryGuestMemory(second.Pid, 0x1000, 4096))
        {
            await using var listener = await PluginListener.ConnectAsync(control, memory, null, TimeSpan.FromSeconds(10));
            Assert.That(listener.VcpuCount, Is.EqualTo(1));
        }

        second.Terminate();
        Assert.That(second.Error, Does.Contain("replacing " + control));
        Assert.That(File.Exists(control), Is.False, "QEMU's normal exit removes the control file");
    }

    [Test]
    public void A_file_that_is_no_control_file_is_never_replaced_and_QEMU_says_why_it_cannot_start()
    {
        var control = Path.Combine(_directory, "precious.txt");
        File.WriteAllText(control, "not a control file");

        using var qemu = BareQemu.Start(control);
        Assert.That(qemu.WaitForExit(TimeSpan.FromSeconds(30)), Is.True, "QEMU refuses to start");

        Assert.That(qemu.Error, Does.Contain("cannot create the control file " + control).And.Contain("choose another ctl=PATH"));
        Assert.That(File.ReadAllText(control), Is.EqualTo("not a control file"));
    }

    [Test]
    public async Task A_plugin_without_a_RAM_file_needs_the_memory_of_its_own_QEMU_process()
    {
        var control = Path.Combine(_directory, "trap.ctl");
        using var qemu = BareQemu.Start(control);
        await qemu.WaitForControlFileAsync();

        var array = Assert.ThrowsAsync<ArgumentException>(() => PluginListener.ConnectAsync(control, new ArrayGuestMemory(4096), null, TimeSpan.FromSeconds(10)));
        Assert.That(array!.Message, Does.Contain("was started without ram=PATH").And.Contain($"ProcessMemoryGuestMemory for pid {qemu.Pid}"));

        using var other = new ProcessMemoryGuestMemory(Environment.ProcessId, 0x1000, 4096);
        Assert.ThrowsAsync<ArgumentException>(() => PluginListener.ConnectAsync(control, other, null, TimeSpan.FromSeconds(10)), "another process's memory");

        using var own = new ProcessMemoryGuestMemory(qemu.Pid, 0x7000_0000, 1 << 20);
        await using var listener = await PluginListener.ConnectAsync(control, own, null, TimeSpan.FromSeconds(10));
        using var file = PluginControlFile.Open(control);
        Assert.That((file.PluginHasRamFile, file.U64(PluginProtocol.Header.RamAddress), file.U64(PluginProtocol.Header.RamSize)), Is.EqualTo((false, 0x7000_0000UL, 1UL << 20)));
    }

    // Found running the README's demo: its summary line read the statistics after the session had
    // ended, from the unmapped control file, and the process died of an access violation.
    [Test]
    public async Task Statistics_after_disposal_are_the_last_ones_and_the_unmapped_file_is_never_read()
    {
        var control = Path.Combine(_directory, "trap.ctl");
        using var qemu = BareQemu.Start(control);
        await qemu.WaitForControlFileAsync();
        using var memory = new ProcessMemoryGuestMemory(qemu.Pid, 0x1000, 4096);
        var listener = await PluginListener.ConnectAsync(control, memory, null, TimeSpan.FromSeconds(10));
        var before = listener.Statistics;

        await listener.DisposeAsync();

        Assert.That(listener.Statistics, Is.EqualTo(before), "no trap happened in between");
        Assert.That(listener.VcpuCount, Is.EqualTo(1));

        var file = PluginControlFile.Open(control);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _ = file.U64(PluginProtocol.Header.RamSize), "a disposed control file throws instead of reading unmapped memory");
    }

    /// <summary>qemu-system-x86_64 with no machine, paused, loading the trap plugin; stopped by pid on disposal.</summary>
    private sealed class BareQemu : IDisposable
    {
        private readonly Process _process;
        private readonly Task<string> _error;
        private readonly string _control;

        private BareQemu(Process process, string control)
        {
            _process = process;
            _control = control;
            _error = process.StandardError.ReadToEndAsync();
        }

        public int Pid => _process.Id;

        /// <summary>Gets what QEMU (and the plugin) printed; waits for QEMU to end.</summary>
        public string Error => _error.GetAwaiter().GetResult();

        public static BareQemu Start(string control)
        {
            var start = new ProcessStartInfo("qemu-system-x86_64")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "-M", "none", "-S", "-display", "none", "-monitor", "none", "-plugin", $"{TrapPlugin.EnsureBuilt()},ctl={control}" })
            {
                start.ArgumentList.Add(argument);
            }

            return new BareQemu(Process.Start(start) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start."), control);
        }

        public async Task WaitForControlFileAsync()
        {
            var clock = Stopwatch.StartNew();
            while (!OwnsControlFile())
            {
                Assert.That(_process.HasExited, Is.False, () => "QEMU ended: " + Error);
                Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "QEMU's plugin did not create its control file");
                await Task.Delay(20);
            }
        }

        public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        /// <summary>SIGTERM: QEMU exits normally, running the plugin's exit callback.</summary>
        public void Terminate()
        {
            var (code, _, error) = ProcessRunner.Run("kill", TimeSpan.FromSeconds(10), "-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.That(code, Is.Zero, error);
            Assert.That(_process.WaitForExit(TimeSpan.FromSeconds(30)), Is.True, "QEMU ends on SIGTERM");
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }

        private bool OwnsControlFile()
        {
            try
            {
                using var file = PluginControlFile.Open(_control);
                return file.PluginPid == Pid;
            }
            catch (Exception ex) when (ex is IOException or TrapPluginException or UnauthorizedAccessException)
            {
                return false;
            }
        }
    }
}
