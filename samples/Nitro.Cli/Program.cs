namespace Nitro.Cli;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        // Ctrl+C cancels the token: the listener detaches (breakpoints removed, guest resumed) and QEMU is
        // stopped by the commands' own disposal. A second Ctrl+C is left to the runtime and ends the process.
        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!cancellation.IsCancellationRequested)
            {
                e.Cancel = true;
                cancellation.Cancel();
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var terminal = !Console.IsOutputRedirected;
            return await NitroCommand.RunAsync(args, Console.Out, Console.Error, cancellation.Token, terminal);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
