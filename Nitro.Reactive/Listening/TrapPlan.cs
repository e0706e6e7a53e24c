using Nitro.Reactive.Events;

namespace Nitro.Reactive.Listening;

/// <summary>What a listener does at a breakpoint so that the guest continues as if it had executed the trapped instruction.</summary>
public enum TrapEmulation
{
    /// <summary>The instruction is <c>swapgs</c>: swap GS base and kernel GS base, step over its 3 bytes.</summary>
    SwapGs,

    /// <summary>The instruction has no effect the guest can observe (a NOP form, <c>endbr64</c>): step over its bytes.</summary>
    Skip,

    /// <summary>The instruction is <c>test al, al</c>: set ZF, SF and PF from AL, clear CF, OF and AF, step over its 2 bytes.</summary>
    TestAlAl,

    /// <summary>The instruction is <c>test eax, eax</c>: set ZF, SF and PF from EAX, clear CF, OF and AF, step over its 2 bytes.</summary>
    TestEaxEax,

    /// <summary>The instruction is a direct near <c>jmp</c>: continue at <see cref="TrapPoint.JumpTarget"/>.</summary>
    Jump,

    /// <summary>The instruction is <c>clac</c>: clear EFLAGS.AC, step over its 3 bytes.</summary>
    Clac,

    /// <summary>
    /// Nothing to step past: the listener calls back before the instruction and the guest then executes
    /// it (<see cref="TrapStyle.Callback"/> plans only; a breakpoint listener refuses such a point).
    /// </summary>
    Execute,
}

/// <summary>Why a trap point exists.</summary>
public enum TrapRole
{
    /// <summary>The common system call entry (<c>entry_SYSCALL_64</c>): every call, entry side.</summary>
    SyscallEntry,

    /// <summary>The common return from the system call dispatcher: every call, exit side.</summary>
    SyscallExit,

    /// <summary>The handler of one requested system call (<c>__x64_sys_openat</c>): entry side of that call only.</summary>
    Handler,
}

/// <summary>One breakpoint address of a <see cref="TrapPlan"/> and how to step past it.</summary>
/// <param name="Address">The guest virtual address of the trapped instruction.</param>
/// <param name="Role">Why it is trapped.</param>
/// <param name="Emulation">How to step past it without single-stepping.</param>
/// <param name="Length">The instruction's length in bytes.</param>
/// <param name="Syscall">For <see cref="TrapRole.Handler"/>: the system call's short name.</param>
/// <param name="Mechanism">The mechanism the trapped path serves.</param>
public sealed record TrapPoint(ulong Address, TrapRole Role, TrapEmulation Emulation, int Length, string? Syscall = null, SyscallMechanism Mechanism = SyscallMechanism.Syscall)
{
    /// <summary>Gets the direction of the events this point produces.</summary>
    public SyscallDirection Direction => Role == TrapRole.SyscallExit ? SyscallDirection.Exit : SyscallDirection.Enter;

    /// <summary>Gets the destination of a trapped <c>jmp</c> (<see cref="TrapEmulation.Jump"/>); zero for other instructions.</summary>
    public ulong JumpTarget { get; init; }

    /// <summary>
    /// Gets which requested-number set filters this point in a <see cref="TrapStyle.Callback"/> plan:
    /// 0 for <see cref="TrapPlan.SyscallNumbers"/>, 1 for <see cref="TrapPlan.CompatSyscallNumbers"/>
    /// (the 32-bit calls of a 64-bit kernel, numbered differently).
    /// </summary>
    public int FilterSet { get; init; }

    /// <summary>Gets where the guest continues once the trapped instruction is emulated: the jump's target, else the next instruction.</summary>
    public ulong ResumeAddress => Emulation == TrapEmulation.Jump ? JumpTarget : Address + (ulong)Length;
}

/// <summary>
/// The guest addresses a breakpoint listener must trap, computed by an OS back end from the
/// guest's own symbols, and the system call numbers an in-kernel listener (Nitro's ioctls)
/// filters on. Exit points listed in <see cref="ExitPoints"/> are armed only while
/// <see cref="ExitGate"/> says a requested call is in flight, so that filtered tracing does not
/// stop the guest at every return.
/// </summary>
public sealed class TrapPlan
{
    /// <summary>Initializes a new plan.</summary>
    /// <param name="entryPoints">Points armed for the whole session.</param>
    /// <param name="exitPoints">Points armed while <paramref name="exitGate"/> is open (all the time when it is <see langword="null"/>).</param>
    /// <param name="syscallNumbers">The numbers of the requested calls, or <see langword="null"/> for all.</param>
    /// <param name="exitGate">Opened by the back end while requested calls are in flight; <see langword="null"/> to keep exits armed.</param>
    public TrapPlan(IReadOnlyList<TrapPoint> entryPoints, IReadOnlyList<TrapPoint> exitPoints, IReadOnlyList<long>? syscallNumbers = null, ExitGate? exitGate = null)
    {
        EntryPoints = entryPoints ?? throw new ArgumentNullException(nameof(entryPoints));
        ExitPoints = exitPoints ?? throw new ArgumentNullException(nameof(exitPoints));
        SyscallNumbers = syscallNumbers;
        ExitGate = exitGate;
    }

    /// <summary>Gets the points armed for the whole session.</summary>
    public IReadOnlyList<TrapPoint> EntryPoints { get; }

    /// <summary>Gets the exit points.</summary>
    public IReadOnlyList<TrapPoint> ExitPoints { get; }

    /// <summary>Gets the requested call numbers, or <see langword="null"/> when every call is traced.</summary>
    public IReadOnlyList<long>? SyscallNumbers { get; }

    /// <summary>Gets the gate that arms the exit points, or <see langword="null"/> when they stay armed.</summary>
    public ExitGate? ExitGate { get; }

    /// <summary>Gets the kind of listener the plan was made for (<see cref="TrapStyle.Breakpoint"/> unless the back end said otherwise).</summary>
    public TrapStyle Style { get; init; }

    /// <summary>
    /// Gets where the saved user registers and the current task are, for <see cref="TrapStyle.Callback"/>
    /// plans (required there); <see langword="null"/> for breakpoint plans.
    /// </summary>
    public SavedFrameLocator? Frames { get; init; }

    /// <summary>
    /// Gets the requested numbers of the points whose <see cref="TrapPoint.FilterSet"/> is 1 (the 32-bit
    /// calls of a 64-bit Linux kernel), or <see langword="null"/> when every call is traced.
    /// </summary>
    public IReadOnlyList<long>? CompatSyscallNumbers { get; init; }

    /// <summary>Finds the point at <paramref name="address"/>.</summary>
    /// <param name="address">A breakpoint address.</param>
    /// <returns>The point, or <see langword="null"/>.</returns>
    public TrapPoint? Find(ulong address)
    {
        foreach (var point in EntryPoints)
        {
            if (point.Address == address)
            {
                return point;
            }
        }

        foreach (var point in ExitPoints)
        {
            if (point.Address == address)
            {
                return point;
            }
        }

        return null;
    }
}

/// <summary>
/// Counts requested calls in flight. A back end opens it when it sees a requested entry and closes
/// it when the matching exit arrives; a listener arms the plan's exit points while it is open.
/// Updated synchronously while the vCPU is paused, so the listener reads it right after observers ran.
/// </summary>
public sealed class ExitGate
{
    private int _inFlight;

    /// <summary>Gets the number of requested calls in flight.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Gets a value indicating whether exit points should be armed.</summary>
    public bool IsOpen => InFlight > 0;

    /// <summary>Records a requested entry.</summary>
    public void Enter() => Interlocked.Increment(ref _inFlight);

    /// <summary>Records the exit of a requested call (never below zero).</summary>
    public void Exit()
    {
        int current;
        do
        {
            current = Volatile.Read(ref _inFlight);
            if (current == 0)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _inFlight, current - 1, current) != current);
    }

    /// <summary>Forgets every call in flight (threads that died inside a call, detach).</summary>
    public void Reset() => Volatile.Write(ref _inFlight, 0);
}
