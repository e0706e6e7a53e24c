using System.CommandLine;

namespace Nitro.Cli.Commands;

/// <summary>The FILE argument shared by the commands that read a trace.</summary>
internal static class TraceFileArgument
{
    public static Argument<FileInfo> Create() => new("file") { Description = "A trace written by 'nitro record' or TraceWriter (.nitrotrace)" };

    /// <summary>Checks the file exists; writes the message and returns false otherwise.</summary>
    public static bool Exists(FileInfo file, CliConsole console)
    {
        if (file.Exists)
        {
            return true;
        }

        console.Error.WriteLine($"nitro: trace file '{file.FullName}' does not exist.");
        return false;
    }
}
