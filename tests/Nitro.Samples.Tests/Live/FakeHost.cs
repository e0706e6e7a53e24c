using System.Diagnostics;
using Nitro.Kvm.Plugin;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// A second host process for the trap plugin, built here with gcc from the plugin's own protocol
/// header: it attaches to a control file (the plan already in it), never answers a trap, and waits to
/// be killed — the plugin must notice that its host is gone and let the guest run on.
/// </summary>
internal sealed class FakeHost : IDisposable
{
    private const string Source = """
        #include <fcntl.h>
        #include <stdio.h>
        #include <sys/mman.h>
        #include <unistd.h>
        #include "nitro_trap_protocol.h"

        int main(int argc, char **argv)
        {
            int fd = open(argv[1], O_RDWR);
            if (fd < 0) { perror("open"); return 1; }
            struct ntp_header *h = mmap(NULL, NTP_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (h == MAP_FAILED) { perror("mmap"); return 1; }
            h->host_pid = (uint32_t)getpid();
            h->mode = NTP_MODE_SYNC;
            h->timeout_ms = 600000; /* only its death may release the guest */
            __atomic_fetch_add(&h->attach_epoch, 1, __ATOMIC_SEQ_CST);
            __atomic_store_n(&h->attached, 1, __ATOMIC_SEQ_CST);
            printf("ATTACHED\n");
            fflush(stdout);
            for (;;) pause();
        }
        """;

    private static readonly Lazy<string> s_executable = new(Build);

    private readonly Process _process;

    private FakeHost(Process process)
    {
        _process = process;
    }

    /// <summary>Compiles the fake host once (before a guest starts: the compile can outlast a short workload on a busy machine).</summary>
    public static void EnsureBuilt() => _ = s_executable.Value;

    public static FakeHost Start(string controlPath)
    {
        var process = Process.Start(new ProcessStartInfo(s_executable.Value, [controlPath]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var line = process.StandardOutput.ReadLine();
        if (line != "ATTACHED")
        {
            process.Kill();
            throw new InvalidOperationException($"The fake host did not attach: {line}");
        }

        return new FakeHost(process);
    }

    private static string Build()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"nitro-fakehost-{Environment.ProcessId}");
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        File.WriteAllText(Path.Combine(directory, "nitro_trap_protocol.h"), TrapPlugin.ReadSource("nitro_trap_protocol.h"));
        File.WriteAllText(Path.Combine(directory, "host.c"), Source);
        var executable = Path.Combine(directory, "host");
        var (exit, _, error) = ProcessRunner.Run("gcc", TimeSpan.FromMinutes(1), "-O1", "-o", executable, Path.Combine(directory, "host.c"));
        return exit == 0 ? executable : throw new InvalidOperationException($"gcc failed on the fake host ({exit}): {error}");
    }

    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }
}
