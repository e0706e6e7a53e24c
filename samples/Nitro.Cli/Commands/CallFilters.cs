using System.Globalization;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Commands;

/// <summary>How the commands read their --process and --syscall options.</summary>
internal static class CallFilters
{
    /// <summary>Keeps the calls of a process given by pid (a number) or by name; all calls when <paramref name="process"/> is null.</summary>
    public static IObservable<Syscall> ByProcess(IObservable<Syscall> calls, string? process) => process switch
    {
        null => calls,
        _ when int.TryParse(process, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) => calls.WhereProcess(pid),
        _ => calls.WhereProcess(process),
    };

    /// <summary>The call names of repeated or comma-separated --syscall values.</summary>
    public static string[] SplitNames(string[]? values) =>
        (values ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
}
