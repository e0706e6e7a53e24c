using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording;

/// <summary>Rx operators that record a stream into a trace file while passing it through.</summary>
public static partial class TraceObservable
{
    /// <summary>Writes every event to <paramref name="writer"/> as it passes, then forwards it unchanged (like <c>Do</c>).</summary>
    /// <param name="source">The events.</param>
    /// <param name="writer">The trace writer; the caller completes or disposes it when recording is over.</param>
    /// <returns>The same events.</returns>
    public static IObservable<NitroEvent> RecordTo(this IObservable<NitroEvent> source, TraceWriter writer)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(writer);
        return source.Do(writer.WriteEvent);
    }

    /// <summary>Writes every system call (and its event, unless already written) to <paramref name="writer"/> as it passes, then forwards it unchanged.</summary>
    /// <param name="source">The system calls.</param>
    /// <param name="writer">The trace writer; the caller completes or disposes it when recording is over.</param>
    /// <returns>The same system calls.</returns>
    public static IObservable<Syscall> RecordTo(this IObservable<Syscall> source, TraceWriter writer)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(writer);
        return source.Do(writer.WriteSyscall);
    }
}
