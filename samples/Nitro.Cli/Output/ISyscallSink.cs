using Nitro.Reactive.Export;
using Nitro.Reactive.Syscalls;

namespace Nitro.Cli.Output;

/// <summary>Where the CLI prints calls: a text table or JSON Lines.</summary>
internal interface ISyscallSink : IDisposable
{
    void Write(Syscall call);

    void Flush();
}

/// <summary>JSON Lines, Nitro's <c>as_dict</c> fields plus args, decoded and return.</summary>
internal sealed class JsonLinesSink(JsonLinesWriter writer) : ISyscallSink
{
    public void Write(Syscall call) => writer.Write(call);

    public void Flush() => writer.Flush();

    public void Dispose() => writer.Dispose();
}
