using Nitro.Reactive.Events;
using Nitro.Reactive.Syscalls;

namespace Nitro.Reactive.Recording.Internal;

/// <summary>Turns records into items: straight to the observer (fast replay) or into a block's pending list (timed replay).</summary>
internal abstract class ReplayVisitor<T> : ITraceVisitor
{
    public IObserver<T>? Observer { get; set; }

    public List<(T Item, long Timestamp)>? Pending { get; set; }

    public CancellationToken CancellationToken { get; set; }

    private SpecialRegistersSnapshot?[] _snapshots = [];

    public virtual void OnEvent(in TraceEventView e)
    {
        if (e.SpecialRegistersChanged && e.Vcpu < _snapshots.Length)
        {
            _snapshots[e.Vcpu] = null;
        }
    }

    public virtual void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
    {
    }

    /// <summary>
    /// Copies the view into an event whose special registers are shared with the vCPU's
    /// previous events while the trace says they did not change.
    /// </summary>
    protected NitroEvent ToEvent(in TraceEventView e) =>
        NitroEvent.WithSharedSpecialRegisters(e.Vcpu, e.Direction, e.Mechanism, in e.Registers, Snapshot(in e), e.Timestamp);

    /// <summary>The vCPU's special registers, shared with its previous events while the trace says they did not change.</summary>
    protected SpecialRegistersSnapshot Snapshot(in TraceEventView e)
    {
        var vcpu = e.Vcpu;
        if (vcpu >= _snapshots.Length)
        {
            Array.Resize(ref _snapshots, Math.Max(vcpu + 1, _snapshots.Length * 2));
        }

        var snapshot = _snapshots[vcpu];
        if (snapshot is null || e.SpecialRegistersChanged)
        {
            snapshot = new SpecialRegistersSnapshot(in e.SpecialRegisters);
            _snapshots[vcpu] = snapshot;
        }

        return snapshot;
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
    public override void OnEvent(in TraceEventView e) => Emit(ToEvent(in e), e.Timestamp);
}

internal sealed class SyscallReplayVisitor : ReplayVisitor<Syscall>
{
    public override void OnSyscall(in TraceEventView e, in TraceSyscallRecord syscall)
    {
        // One object per call: the event and the argument map are built only if a subscriber asks for them.
        var trap = new TrapData(e.Vcpu, e.Direction, e.Mechanism, in e.Registers, Snapshot(in e), e.Timestamp);
        Emit(
            new Syscall(in trap, syscall.Number, syscall.Name, syscall.FullName, syscall.Process, syscall.Convention, syscall.ThreadId, syscall.Decoded),
            e.Timestamp);
    }
}
