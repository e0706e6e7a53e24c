using Nitro.Tests.Shared;
namespace Nitro.Samples.Tests.Live;

/// <summary>
/// The test guest plus a small static program built here with gcc, run as the guest's workload.
/// It opens, writes and closes a file, fails to open a missing one, and prints what it saw.
/// </summary>
internal static class ProbeGuest
{
    public const string ProgramName = "nitro-probe";
    public const string FilePath = "/tmp/nitro-probe.txt";
    public const string MissingPath = "/nonexistent/nitro";
    public const string Message = "nitro says hello\n";

    private const string Source = """
        #include <fcntl.h>
        #include <stdio.h>
        #include <unistd.h>

        int main(void)
        {
            static const char message[] = "nitro says hello\n";
            int fd = open("/tmp/nitro-probe.txt", O_WRONLY | O_CREAT | O_TRUNC, 0640);
            ssize_t wrote = write(fd, message, sizeof message - 1);
            close(fd);
            int missing = open("/nonexistent/nitro", O_RDONLY);
            printf("PROBE pid=%d ppid=%d fd=%d wrote=%zd missing=%d\n", getpid(), getppid(), fd, wrote, missing);
            return 0;
        }
        """;

    private static readonly Lazy<(string Kernel, string Initrd)> s_image = new(Build);

    public static (string Kernel, string Initrd) Image => s_image.Value;

    private static (string Kernel, string Initrd) Build() =>
        ProbeImage.Build(Source, [ProgramName], "/" + ProgramName);
}

/// <summary>What the probe printed about itself on the guest console.</summary>
internal sealed record ProbeReport(int Pid, int ParentPid, int Fd, int Wrote, int Missing)
{
    public static ProbeReport Parse(string line)
    {
        var f = ProbeImage.ParseReport(line, "PROBE");
        return new ProbeReport((int)f["pid"], (int)f["ppid"], (int)f["fd"], (int)f["wrote"], (int)f["missing"]);
    }
}
