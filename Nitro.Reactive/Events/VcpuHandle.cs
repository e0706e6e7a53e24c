namespace Nitro.Reactive.Events;

/// <summary>What the registers of a <see cref="VcpuHandle"/> are, and so where its writes go.</summary>
public enum VcpuRegisterTarget
{
    /// <summary>The vCPU's own registers at the trap; writes change them before the vCPU resumes.</summary>
    Vcpu,

    /// <summary>
    /// The user registers the guest kernel saved when the thread entered it (Linux:
    /// <c>struct pt_regs</c> on the thread's kernel stack), at <see cref="VcpuHandle.FrameAddress"/>
    /// in guest memory. Reads and writes go to that memory; the thread sees the values when the
    /// kernel restores the frame on its way back to user mode (on exit, RAX is the return value).
    /// </summary>
    SavedUserFrame,
}

/// <summary>
/// A handle to a vCPU that is paused at a trap. It reads and writes registers only while the
/// vCPU stays paused, that is while synchronous observers run on the listener thread; once the
/// listener resumes the vCPU every call throws <see cref="VcpuResumedException"/>.
/// <see cref="Target"/> says whether the registers are the vCPU's own or a user frame the kernel
/// saved in guest memory (an OS back end hands out the latter where the call's user registers
/// live in memory at the trap, as after Linux's syscall dispatcher returned).
/// </summary>
public sealed class VcpuHandle
{
    private readonly IVcpuAccess _access;
    private readonly VcpuHandle? _pausedWith;
    private volatile bool _paused = true;

    private VcpuHandle(int vcpu, IVcpuAccess access, VcpuHandle? pausedWith, VcpuRegisterTarget target, ulong frameAddress)
    {
        Vcpu = vcpu;
        _access = access;
        _pausedWith = pausedWith;
        Target = target;
        FrameAddress = frameAddress;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }

    /// <summary>Gets a value indicating whether the vCPU is still paused, so the handle may be used.</summary>
    public bool IsPaused => _pausedWith?.IsPaused ?? _paused;

    /// <summary>Gets what this handle's registers are: the vCPU's own, or a user frame saved in guest memory.</summary>
    public VcpuRegisterTarget Target { get; }

    /// <summary>
    /// Gets the guest virtual address (in the trapping context's address space) of the saved user
    /// frame for <see cref="VcpuRegisterTarget.SavedUserFrame"/>; 0 for <see cref="VcpuRegisterTarget.Vcpu"/>.
    /// </summary>
    public ulong FrameAddress { get; }

    /// <summary>
    /// Creates the handle of a vCPU that a listener has just paused. The listener keeps the
    /// returned <see cref="VcpuPause"/> and disposes it right before resuming the vCPU.
    /// </summary>
    /// <param name="vcpu">The vCPU index.</param>
    /// <param name="access">The listener's register access for that vCPU.</param>
    /// <returns>The pause scope that owns the handle.</returns>
    public static VcpuPause Pause(int vcpu, IVcpuAccess access)
    {
        ArgumentNullException.ThrowIfNull(access);
        return new VcpuPause(new VcpuHandle(vcpu, access, null, VcpuRegisterTarget.Vcpu, 0));
    }

    /// <summary>
    /// Creates the handle of a vCPU that a callback listener (one that reads no vCPU register) holds at
    /// a trap: its registers are the user frame the guest kernel saved at <paramref name="frameAddress"/>.
    /// The listener keeps the returned <see cref="VcpuPause"/> and disposes it right before letting the vCPU go on.
    /// </summary>
    /// <param name="vcpu">The vCPU index.</param>
    /// <param name="frame">Reads and writes the saved frame in guest memory.</param>
    /// <param name="frameAddress">The guest virtual address of the frame.</param>
    /// <returns>The pause scope; its handle's <see cref="Target"/> is <see cref="VcpuRegisterTarget.SavedUserFrame"/>.</returns>
    public static VcpuPause PauseAtSavedFrame(int vcpu, IVcpuAccess frame, ulong frameAddress)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return new VcpuPause(new VcpuHandle(vcpu, frame, null, VcpuRegisterTarget.SavedUserFrame, frameAddress));
    }

    /// <summary>
    /// Creates a handle over the user registers that the guest kernel saved at
    /// <paramref name="frameAddress"/>, valid exactly as long as this handle (the same pause).
    /// </summary>
    /// <param name="frameAddress">The guest virtual address of the saved frame.</param>
    /// <param name="frame">Reads and writes the frame in guest memory; its special registers are the vCPU's.</param>
    /// <returns>A handle whose <see cref="Target"/> is <see cref="VcpuRegisterTarget.SavedUserFrame"/>; it refuses use once this one does.</returns>
    public VcpuHandle ForSavedUserFrame(ulong frameAddress, IVcpuAccess frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return new VcpuHandle(Vcpu, frame, this, VcpuRegisterTarget.SavedUserFrame, frameAddress);
    }

    /// <summary>Reads the current general-purpose registers (for a saved user frame: from guest memory).</summary>
    /// <returns>The registers.</returns>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
    /// <exception cref="Memory.GuestMemoryException">A saved frame is not readable.</exception>
    public Registers GetRegisters()
    {
        EnsurePaused();
        _access.GetRegisters(out var registers);
        return registers;
    }

    /// <summary>
    /// Writes the general-purpose registers; the guest sees them when it resumes (for a saved user
    /// frame: the changed slots are written to guest memory, and the thread sees them when the
    /// kernel restores the frame).
    /// </summary>
    /// <param name="registers">The new values.</param>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
    /// <exception cref="Memory.GuestMemoryException">A saved frame is not writable.</exception>
    /// <exception cref="NotSupportedException">The register cannot be changed here (for example a saved frame's call number after dispatch).</exception>
    public void SetRegisters(in Registers registers)
    {
        EnsurePaused();
        _access.SetRegisters(in registers);
    }

    /// <summary>Reads the current special registers.</summary>
    /// <returns>The special registers.</returns>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
    public SpecialRegisters GetSpecialRegisters()
    {
        EnsurePaused();
        _access.GetSpecialRegisters(out var registers);
        return registers;
    }

    /// <summary>Writes the special registers; the guest sees them when it resumes.</summary>
    /// <param name="registers">The new values.</param>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
    public void SetSpecialRegisters(in SpecialRegisters registers)
    {
        EnsurePaused();
        _access.SetSpecialRegisters(in registers);
    }

    internal void MarkResumed() => _paused = false;

    private void EnsurePaused()
    {
        if (!IsPaused)
        {
            throw new VcpuResumedException(Vcpu);
        }
    }
}

/// <summary>
/// The listener's side of a <see cref="VcpuHandle"/>: disposing it marks the vCPU as resumed,
/// after which the handle refuses every register access.
/// </summary>
public sealed class VcpuPause : IDisposable
{
    internal VcpuPause(VcpuHandle handle) => Handle = handle;

    /// <summary>Gets the handle given to observers of the paused event.</summary>
    public VcpuHandle Handle { get; }

    /// <summary>Marks the vCPU as resumed. Idempotent.</summary>
    public void Dispose() => Handle.MarkResumed();
}

/// <summary>
/// Thrown when a register access is attempted through a <see cref="VcpuHandle"/> after the vCPU
/// resumed — typically from an observer behind <c>ObserveOn</c>, which sees a snapshot.
/// </summary>
public sealed class VcpuResumedException : InvalidOperationException
{
    /// <summary>Initializes a new instance for the given vCPU.</summary>
    /// <param name="vcpu">The vCPU index.</param>
    public VcpuResumedException(int vcpu)
        : base($"vCPU {vcpu} has resumed: this event is now a snapshot and its registers can no longer be changed. " +
               "Observe synchronously (without ObserveOn or Decouple) to modify registers or arguments.")
    {
        Vcpu = vcpu;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }
}
