using System.CommandLine;
using Nitro.Cli.Commands;
using Nitro.Cli.Demo;

namespace Nitro.Cli;

/// <summary>The <c>nitro</c> tool: its commands and exit codes.</summary>
internal static class NitroCommand
{
    public const int Ok = 0;
    public const int UsageError = 1;
    public const int FileNotFound = 2;
    public const int DamagedTrace = 3;
    public const int Failure = 4;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default, bool terminal = false)
    {
        var console = new CliConsole(output, error) { IsTerminal = terminal };
        var root = new RootCommand("nitro — trace and analyse the system calls of virtual machines (Nitro.Reactive)")
        {
            ReplayCommand.Create(console),
            StatsCommand.Create(console),
            TraceCommand.Create(console),
            RecordCommand.Create(console),
            DemoCommand.Create(console),
            WindowsCommands.Create(console),
            PluginCommand.Create(console),
        };
        foreach (var command in MachineryCommands.Create(console))
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
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
internal sealed record CliConsole(TextWriter Out, TextWriter Error)
{
    /// <summary>Gets a value indicating whether <see cref="Out"/> is an interactive terminal (live views), not a file, pipe or test writer.</summary>
    public bool IsTerminal { get; init; }
}
