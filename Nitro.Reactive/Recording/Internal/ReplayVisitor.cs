using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>Turns records into items: straight to the observer (fast replay) or into a block's pending list (timed replay).</summary>
internal abstract class ReplayVisitor<T> : ITraceVisitor
{
    public IObserver<T>? Observer { get; set; }

    public List<(T Item, long Timestamp)>? Pending { get; set; }

    public CancellationToken CancellationToken { get; set; }

    public virtual void OnEvent(in TraceEventView e)
    {
    }

    public virtual void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
    {
    }

    protected void Emit(T item, long timestamp)
    {
        CancellationToken.ThrowIfCancellationRequested();
        if (Observer is { } observer)
        {
            observer.OnNext(item);
        }
        else
        {
            Pending!.Add((item, timestamp));
        }
    }
}

internal sealed class EventReplayVisitor : ReplayVisitor<NitroEvent>
{
    public override void OnEvent(in TraceEventView e) => Emit(e.ToEvent(), e.Timestamp);
}

internal sealed class SyscallReplayVisitor : ReplayVisitor<Syscall>
{
    public override void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
    {
        var @event = e.ToEvent();
        var arguments = new ArgumentMap(@event, syscall.Convention, memory: null);
        Emit(
            new Syscall(@event, syscall.Number, syscall.Name, syscall.FullName, syscall.Process, arguments, syscall.ThreadId, syscall.Decoded),
            e.Timestamp);
    }
}
