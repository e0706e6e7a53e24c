using BenchmarkDotNet.Running;
using Nitro.Benchmarks.Pipeline;

namespace Nitro.Benchmarks;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && string.Equals(args[0], "pipeline", StringComparison.Ordinal))
        {
            return PipelineHarness.Run(args[1..]);
        }

        if (args.Length > 0 && string.Equals(args[0], "live", StringComparison.Ordinal))
        {
            return await Live.LiveHarness.RunAsync(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
