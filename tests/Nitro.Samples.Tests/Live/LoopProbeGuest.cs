using System.Globalization;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Live;

/// <summary>
/// The test guest with a program that makes a known number of <c>getppid</c> calls in a loop and
/// prints how many it made. <see cref="Busy"/> runs one long loop; <see cref="Rounds"/> runs many
/// short loops with pauses in between, so that the guest keeps running for seconds whatever the
/// tracer does.
/// </summary>
internal static class LoopProbeGuest
{
    public const string ProgramName = "nitro-loop";

    /// <summary>The calls of the long loop.</summary>
    public const int Calls = 20_000;

    /// <summary>The short loops of <see cref="Rounds"/> and the calls of each.</summary>
    public const int RoundCount = 40;
    public const int RoundCalls = 200;

    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>

        int main(int argc, char **argv)
        {
            int n = argc > 1 ? atoi(argv[1]) : 0;
            long sum = 0;
            for (int i = 0; i < n; i++)
                sum += getppid();
            printf("LOOP pid=%d n=%d sum=%ld\n", getpid(), n, sum);
            return 0;
        }
        """;

    private static readonly Lazy<(string Kernel, string Initrd)> s_busy = new(() =>
        ProbeImage.Build(Source, [ProgramName], FormattableString.Invariant($"/{ProgramName} {Calls}")));

    private static readonly Lazy<(string Kernel, string Initrd)> s_rounds = new(() =>
        ProbeImage.Build(Source, [ProgramName], FormattableString.Invariant($"i=0; while [ $i -lt {RoundCount} ]; do /{ProgramName} {RoundCalls}; sleep 0.1; i=$((i+1)); done")));

    public static (string Kernel, string Initrd) Busy => s_busy.Value;

    public static (string Kernel, string Initrd) Rounds => s_rounds.Value;

    public static (int Pid, int Calls) Parse(string line)
    {
        var f = ProbeImage.ParseReport(line, "LOOP");
        return ((int)f["pid"], (int)f["n"]);
    }

    public static string Describe(int pid) => pid.ToString(CultureInfo.InvariantCulture);
}
