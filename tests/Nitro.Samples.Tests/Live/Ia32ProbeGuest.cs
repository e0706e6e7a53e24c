using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// The test guest plus a static 64-bit program that makes 32-bit system calls with <c>int $0x80</c>
/// (ia32 numbers, arguments in ebx ecx edx): open, write and close a file, open a missing one, and
/// getpid — whose handler the 64-bit table shares, as for every call without arguments.
/// Linked without PIE, so its strings live below 4 GiB where 32-bit pointers reach them.
/// </summary>
internal static class Ia32ProbeGuest
{
    public const string ProgramName = "nitro-ia32";
    public const string FilePath = "/tmp/nitro-ia32.txt";
    public const string MissingPath = "/nonexistent/nitro-ia32";
    public const string Message = "ia32 says hello\n";

    // ia32 numbers from syscall_32.tbl: 4 write, 5 open, 6 close, 20 getpid. Flags: O_WRONLY|O_CREAT|O_TRUNC.
    private const string Source = """
        #include <stdio.h>
        #include <unistd.h>

        static char path[] = "/tmp/nitro-ia32.txt";
        static char missing[] = "/nonexistent/nitro-ia32";
        static char message[] = "ia32 says hello\n";

        static long int80(long number, long a, long b, long c)
        {
            long result;
            __asm__ volatile ("int $0x80"
                              : "=a"(result)
                              : "a"(number), "b"(a), "c"(b), "d"(c)
                              : "memory", "r8", "r9", "r10", "r11");
            return result;
        }

        int main(void)
        {
            long fd = int80(5, (long)path, 01 | 0100 | 01000, 0640);
            long wrote = int80(4, fd, (long)message, sizeof message - 1);
            long closed = int80(6, fd, 0, 0);
            long failed = int80(5, (long)missing, 0, 0);
            long pid32 = int80(20, 0, 0, 0);
            printf("IA32PROBE pid=%d ppid=%d fd=%ld wrote=%ld closed=%ld missing=%ld pid32=%ld\n", getpid(), getppid(), fd, wrote, closed, failed, pid32);
            return 0;
        }
        """;

    private static readonly Lazy<(string Kernel, string Initrd)> s_image = new(() =>
        ProbeImage.Build(Source, [ProgramName], "/" + ProgramName, "probe.c", "-static", "-no-pie", "-O1"));

    public static (string Kernel, string Initrd) Image => s_image.Value;
}

/// <summary>What the ia32 probe printed about itself on the guest console.</summary>
internal sealed record Ia32ProbeReport(int Pid, int ParentPid, int Fd, int Wrote, int Closed, int Missing, int Pid32)
{
    public static Ia32ProbeReport Parse(string line)
    {
        var f = ProbeImage.ParseReport(line, "IA32PROBE");
        return new Ia32ProbeReport((int)f["pid"], (int)f["ppid"], (int)f["fd"], (int)f["wrote"], (int)f["closed"], (int)f["missing"], (int)f["pid32"]);
    }
}
