using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;

namespace Nitro.Benchmarks.Pipeline;

/// <summary>
/// Writes a realistic trace of decoded calls: entries and exits of openat/read/write/close/mmap/execve
/// from several processes on two vCPUs, each vCPU running one process for a burst of calls before
/// switching (which changes CR3, so the special registers are stored again as in a live trace).
/// </summary>
internal static class SyntheticTrace
{
    private const int Vcpus = 2;
    private const int BurstLength = 64;

    private static readonly (string Name, long Number)[] Calls =
    [
        ("openat", 257), ("read", 0), ("read", 0), ("write", 1), ("close", 3), ("mmap", 9), ("read", 0), ("write", 1),
        ("openat", 257), ("close", 3), ("read", 0), ("execve", 59),
    ];

    private static readonly string[] Paths = ["/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/etc/passwd", "/proc/self/status", "/tmp/build.log"];

    public static void Write(string path, int calls)
    {
        var rng = new Random(42);
        var processes = CreateProcesses();
        var sregs = new SpecialRegisters[Vcpus];
        for (var v = 0; v < Vcpus; v++)
        {
            rng.NextBytes(SpecialRegisters.AsBytes(ref sregs[v]));
        }

        var current = new int[Vcpus];
        var burst = new int[Vcpus];
        var step = new int[Vcpus];
        var pending = new Syscall?[Vcpus];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new TraceWriter(stream, new TraceWriterOptions { LeaveOpen = true });
        Registers regs = default;
        var time = 1_000_000_000L;
        for (var i = 0; i < calls; i++)
        {
            var vcpu = rng.Next(Vcpus);
            time += 300 + rng.Next(700);
            if (pending[vcpu] is { } entry)
            {
                // The exit of the call entered before on this vCPU.
                WriteExit(writer, entry, vcpu, sregs[vcpu], time, rng);
                pending[vcpu] = null;
                continue;
            }

            if (++burst[vcpu] >= BurstLength)
            {
                burst[vcpu] = 0;
                current[vcpu] = rng.Next(processes.Length);
                sregs[vcpu].Cr3 = 0x1_0000_0000UL + ((ulong)current[vcpu] << 12);
            }

            var process = processes[current[vcpu]];
            var (name, number) = Calls[step[vcpu]++ % Calls.Length];
            rng.NextBytes(Registers.AsBytes(ref regs));
            regs.Rax = (ulong)number;
            var @event = new NitroEvent(vcpu, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, sregs[vcpu], time);
            var syscall = new Syscall(@event, number, name, "__x64_sys_" + name, process,
                new ArgumentMap(@event, CallingConvention.LinuxX64, null), process.Pid + (i % 3), Decode(name, rng));
            writer.WriteSyscall(syscall);
            pending[vcpu] = syscall;
        }
    }

    private static Process[] CreateProcesses()
    {
        var processes = new Process[8];
        for (var p = 0; p < processes.Length; p++)
        {
            var pid = 1200 + (p * 37);
            processes[p] = new Process(pid, p % 2 == 0 ? "bash" : $"worker{p}", 1, new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["tgid"] = (long)pid,
                ["path"] = p % 2 == 0 ? "/usr/bin/bash" : $"/usr/local/bin/worker{p}",
            });
        }

        return processes;
    }

    private static void WriteExit(TraceWriter writer, Syscall entry, int vcpu, in SpecialRegisters sregs, long time, Random rng)
    {
        var regs = entry.Event.Registers;
        regs.Rax = entry.Name switch
        {
            "openat" => 3UL + (ulong)rng.Next(20),
            "read" or "write" => (ulong)rng.Next(4096),
            "mmap" => 0x7f00_0000_0000UL + ((ulong)rng.Next(1 << 20) << 12),
            _ => 0,
        };
        var exitEvent = new NitroEvent(vcpu, SyscallDirection.Exit, SyscallMechanism.Syscall, regs, sregs, time);
        writer.WriteSyscall(new Syscall(exitEvent, entry.Number, entry.Name, entry.FullName, entry.Process,
            new ArgumentMap(exitEvent, CallingConvention.LinuxX64, null), entry.ThreadId, entry.Decoded));
    }

    private static Dictionary<string, object?> Decode(string name, Random rng) => name switch
    {
        "openat" => new(StringComparer.Ordinal) { ["dfd"] = -100L, ["filename"] = Paths[rng.Next(Paths.Length)], ["flags"] = 0x80000L, ["mode"] = 0L },
        "read" or "write" => new(StringComparer.Ordinal) { ["fd"] = (long)rng.Next(3, 12), ["buf"] = 0x7ffd_0000_1000UL, ["count"] = 4096UL },
        "close" => new(StringComparer.Ordinal) { ["fd"] = (long)rng.Next(3, 12) },
        "mmap" => new(StringComparer.Ordinal) { ["addr"] = 0UL, ["len"] = 0x21000UL, ["prot"] = 1L, ["flags"] = 2L, ["fd"] = 3L, ["off"] = 0L },
        _ => new(StringComparer.Ordinal) { ["filename"] = "/usr/bin/ls", ["argv"] = "ls -la /tmp" },
    };
}
