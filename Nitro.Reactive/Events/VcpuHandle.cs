namespace Nitro.Reactive.Events;

/// <summary>
/// A handle to a vCPU that is paused at a trap. It reads and writes registers only while the
/// vCPU stays paused, that is while synchronous observers run on the listener thread; once the
/// listener resumes the vCPU every call throws <see cref="VcpuResumedException"/>.
/// </summary>
public sealed class VcpuHandle
{
    private readonly IVcpuAccess _access;
    private volatile bool _paused = true;

    private VcpuHandle(int vcpu, IVcpuAccess access)
    {
        Vcpu = vcpu;
        _access = access;
    }

    /// <summary>Gets the vCPU index.</summary>
    public int Vcpu { get; }

    /// <summary>Gets a value indicating whether the vCPU is still paused, so the handle may be used.</summary>
    public bool IsPaused => _paused;

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
        return new VcpuPause(new VcpuHandle(vcpu, access));
    }

    /// <summary>Reads the current general-purpose registers.</summary>
    /// <returns>The registers.</returns>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
    public Registers GetRegisters()
    {
        EnsurePaused();
        _access.GetRegisters(out var registers);
        return registers;
    }

    /// <summary>Writes the general-purpose registers; the guest sees them when it resumes.</summary>
    /// <param name="registers">The new values.</param>
    /// <exception cref="VcpuResumedException">The vCPU has resumed.</exception>
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
        if (!_paused)
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
