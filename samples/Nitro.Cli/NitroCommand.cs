using System.CommandLine;
using Nitro.Cli.Commands;

namespace Nitro.Cli;

/// <summary>The <c>nitro</c> tool: its commands and exit codes.</summary>
internal static class NitroCommand
{
    public const int Ok = 0;
    public const int UsageError = 1;
    public const int FileNotFound = 2;
    public const int DamagedTrace = 3;
    public const int Failure = 4;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var console = new CliConsole(output, error);
        var root = new RootCommand("nitro — trace and analyse the system calls of virtual machines (Nitro.Reactive)")
        {
            ReplayCommand.Create(console),
            StatsCommand.Create(console),
            TraceCommand.Create(console),
        };

        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return await parse.InvokeAsync(configuration, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("nitro: cancelled");
            return Failure;
        }
    }
}

/// <summary>Where a command writes: standard output for results, standard error for diagnostics.</summary>
internal sealed record CliConsole(TextWriter Out, TextWriter Error);
