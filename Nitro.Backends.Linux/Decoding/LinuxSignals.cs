using System.Collections.Frozen;
using System.Globalization;

namespace Nitro.Backends.Linux.Decoding;

/// <summary>Linux x86 signal numbers and names (1 … 31, then the real-time range 32 … 64).</summary>
public static class LinuxSignals
{
    /// <summary>The first real-time signal as the kernel numbers it (C libraries reserve a few above it).</summary>
    public const int RealTimeMin = 32;

    /// <summary>The last signal number (<c>_NSIG</c>).</summary>
    public const int RealTimeMax = 64;

    private static readonly string[] s_names =
    [
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    private static readonly string[] s_realTime = BuildRealTime();

    private static readonly FrozenDictionary<string, int> s_byName = BuildByName();

    /// <summary>Gets the name of a signal: <c>SIGKILL</c> for 9, <c>SIGRTMIN+3</c> for 35.</summary>
    /// <param name="signal">The signal number.</param>
    /// <returns>The name, or <see langword="null"/> outside 1 … 64.</returns>
    public static string? GetName(int signal) => signal switch
    {
        >= 1 and < RealTimeMin => s_names[signal],
        >= RealTimeMin and <= RealTimeMax => s_realTime[signal - RealTimeMin],
        _ => null,
    };

    /// <summary>Finds the number of a signal name (with or without the <c>SIG</c> prefix; <c>SIGIOT</c>, <c>SIGPOLL</c> and <c>SIGRTMIN+n</c> included).</summary>
    /// <param name="name">The name, such as <c>SIGTERM</c> or <c>TERM</c>.</param>
    /// <param name="signal">Receives the number.</param>
    /// <returns><see langword="true"/> when the name is known.</returns>
    public static bool TryGetNumber(string name, out int signal)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (s_byName.TryGetValue(name, out signal))
        {
            return true;
        }

        return s_byName.TryGetValue("SIG" + name, out signal);
    }

    /// <summary>The name of a signal, or the number in decimal (0, the "probe" signal of kill, included).</summary>
    internal static string Format(int signal) => GetName(signal) ?? signal.ToString(CultureInfo.InvariantCulture);

    private static string[] BuildRealTime()
    {
        var names = new string[RealTimeMax - RealTimeMin + 1];
        names[0] = "SIGRTMIN";
        for (var i = 1; i < names.Length - 1; i++)
        {
            names[i] = string.Create(CultureInfo.InvariantCulture, $"SIGRTMIN+{i}");
        }

        names[^1] = "SIGRTMAX";
        return names;
    }

    private static FrozenDictionary<string, int> BuildByName()
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal) { ["SIGIOT"] = 6, ["SIGPOLL"] = 29 };
        for (var i = 1; i <= RealTimeMax; i++)
        {
            byName[GetName(i)!] = i;
        }

        for (var i = 1; i < RealTimeMax - RealTimeMin; i++)
        {
            byName[string.Create(CultureInfo.InvariantCulture, $"SIGRTMAX-{i}")] = RealTimeMax - i;
        }

        return byName.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
