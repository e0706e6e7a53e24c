namespace Nitro.Cli;

internal static class Program
{
    private static Task<int> Main(string[] args) => NitroCommand.RunAsync(args, Console.Out, Console.Error);
}
