using System.Globalization;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// The test guest with two copies of one static program that pin themselves to different CPUs
/// (<c>sched_setaffinity</c>) and then, at the same time, open a file of their own and write a
/// count of bytes that names the process and the round: the CPU-0 copy writes
/// <see cref="FirstCount"/> + round bytes, the CPU-1 copy <see cref="FirstCount"/> + 100 + round.
/// Each prints what it saw on the console.
/// </summary>
internal static class SmpProbeGuest
{
    public const int Rounds = 8;
    public const int FirstCount = 100;

    /// <summary>The process names (comm), one per CPU: index = the CPU the process pins itself to.</summary>
    public static readonly string[] ProgramNames = ["nitro-smp-a", "nitro-smp-b"];

    private const string Source = """
        #define _GNU_SOURCE
        #include <fcntl.h>
        #include <sched.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>

        int main(int argc, char **argv)
        {
            static char buffer[512];
            int cpu = argc > 1 ? atoi(argv[1]) : 0;
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            int pinned = sched_setaffinity(0, sizeof set, &set);
            memset(buffer, 'a' + cpu, sizeof buffer);
            char path[64];
            snprintf(path, sizeof path, "/tmp/nitro-smp-cpu%d", cpu);
            int fd = -1, bad = 0;
            for (int round = 0; round < ROUNDS; round++) {
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                int count = FIRST + cpu * 100 + round;
                if (write(fd, buffer, count) != count)
                    bad++;
                close(fd);
            }
            printf("SMPPROBE cpu=%d pid=%d pinned=%d ran=%d fd=%d bad=%d\n", cpu, getpid(), pinned, sched_getcpu(), fd, bad);
            return 0;
        }
        """;

    private static readonly Lazy<(string Kernel, string Initrd)> s_image = new(() => ProbeImage.Build(
        "#define ROUNDS " + Rounds.ToString(CultureInfo.InvariantCulture) + "\n#define FIRST " + FirstCount.ToString(CultureInfo.InvariantCulture) + "\n" + Source,
        ProgramNames,
        $"/{ProgramNames[0]} 0 & /{ProgramNames[1]} 1 & wait"));

    public static (string Kernel, string Initrd) Image => s_image.Value;

    public static string PathOf(int cpu) => "/tmp/nitro-smp-cpu" + cpu.ToString(CultureInfo.InvariantCulture);

    public static long CountOf(int cpu, int round) => FirstCount + (cpu * 100) + round;
}

/// <summary>What one SMP probe printed about itself.</summary>
internal sealed record SmpProbeReport(int Cpu, int Pid, int Pinned, int Ran, int Fd, int Bad)
{
    public static SmpProbeReport Parse(string line)
    {
        var f = ProbeImage.ParseReport(line, "SMPPROBE");
        return new SmpProbeReport((int)f["cpu"], (int)f["pid"], (int)f["pinned"], (int)f["ran"], (int)f["fd"], (int)f["bad"]);
    }
}
