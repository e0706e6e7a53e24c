using Nitro.Reactive.Events;

namespace Nitro.Reactive.Listening;

/// <summary>
/// Where the guest kernel keeps the trapping thread's user registers and which thread that is,
/// for listeners that read no vCPU register (<see cref="TrapStyle.Callback"/>). An OS back end
/// computes it from the guest's own symbols (Linux: <c>__per_cpu_offset</c>,
/// <c>cpu_current_top_of_stack</c>, <c>current_task</c>, <c>pt_regs</c>); the listener only follows
/// the paths, so it stays OS-agnostic. All paths are read through the kernel page tables at
/// <see cref="KernelPageTableRoot"/>.
/// </summary>
public sealed class SavedFrameLocator
{
    /// <summary>Initializes a new locator.</summary>
    /// <param name="kernelPageTableRoot">The physical address of the top-level page table that maps kernel addresses.</param>
    /// <param name="perVcpuTable">The kernel virtual address of an array with one 64-bit base per vCPU.</param>
    /// <param name="frame">From a vCPU's base to the saved user frame.</param>
    /// <param name="task">From a vCPU's base to the current task (thread).</param>
    /// <param name="addressSpace">From the task to the value that locates its page tables.</param>
    /// <param name="addressSpaceBias">Subtracted from that value to get the physical page-table root (Linux: <c>page_offset_base</c>).</param>
    /// <param name="layout">Where each register is in the frame.</param>
    public SavedFrameLocator(ulong kernelPageTableRoot, ulong perVcpuTable, GuestPointerPath frame, GuestPointerPath task, GuestPointerPath addressSpace, ulong addressSpaceBias, SavedFrameLayout layout)
    {
        KernelPageTableRoot = kernelPageTableRoot;
        PerVcpuTable = perVcpuTable;
        Frame = frame ?? throw new ArgumentNullException(nameof(frame));
        Task = task ?? throw new ArgumentNullException(nameof(task));
        AddressSpace = addressSpace ?? throw new ArgumentNullException(nameof(addressSpace));
        AddressSpaceBias = addressSpaceBias;
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
    }

    /// <summary>Gets the physical address of the kernel's top-level page table.</summary>
    public ulong KernelPageTableRoot { get; }

    /// <summary>Gets the kernel virtual address of the per-vCPU base array (indexed by vCPU number).</summary>
    public ulong PerVcpuTable { get; }

    /// <summary>Gets the path from a vCPU's base to the saved user frame.</summary>
    public GuestPointerPath Frame { get; }

    /// <summary>Gets the path from a vCPU's base to the current task.</summary>
    public GuestPointerPath Task { get; }

    /// <summary>Gets the path from the task to the value that locates its page tables.</summary>
    public GuestPointerPath AddressSpace { get; }

    /// <summary>Gets what is subtracted from the address-space value to get a physical page-table root.</summary>
    public ulong AddressSpaceBias { get; }

    /// <summary>Gets the frame's layout.</summary>
    public SavedFrameLayout Layout { get; }
}

/// <summary>
/// The layout of a saved user frame: the byte offset of each general-purpose register (in
/// <see cref="Registers"/> field order: rax rbx rcx rdx rsi rdi rsp rbp r8 … r15 rip rflags), with
/// RAX at one place on entry (the call number) and another on exit (the return value).
/// </summary>
public sealed class SavedFrameLayout
{
    private readonly int[] _offsets;

    /// <summary>Initializes a new layout.</summary>
    /// <param name="size">The frame's size in bytes.</param>
    /// <param name="registerOffsets">18 byte offsets in <see cref="Registers"/> field order; RAX's is the exit one. -1: not saved.</param>
    /// <param name="entryRaxOffset">Where RAX (the call number) is on entry.</param>
    /// <param name="numberMask">Masks the call number read on entry and exit.</param>
    /// <param name="exitNumberOffset">Where the call number is still found on exit (-1 when it is not).</param>
    public SavedFrameLayout(int size, IReadOnlyList<int> registerOffsets, int entryRaxOffset, ulong numberMask = ulong.MaxValue, int exitNumberOffset = -1)
    {
        ArgumentNullException.ThrowIfNull(registerOffsets);
        if (size is <= 0 or > 512)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "A saved frame is 1 to 512 bytes.");
        }

        if (registerOffsets.Count != Registers.Size / 8)
        {
            throw new ArgumentException($"A frame layout gives {Registers.Size / 8} register offsets, not {registerOffsets.Count}.", nameof(registerOffsets));
        }

        foreach (var offset in registerOffsets.Append(entryRaxOffset))
        {
            if (offset < -1 || offset > size - 8)
            {
                throw new ArgumentOutOfRangeException(nameof(registerOffsets), offset, $"A register offset must be -1 or within the {size}-byte frame.");
            }
        }

        Size = size;
        _offsets = [.. registerOffsets];
        EntryRaxOffset = entryRaxOffset;
        NumberMask = numberMask;
        ExitNumberOffset = exitNumberOffset;
    }

    /// <summary>Gets the frame's size in bytes.</summary>
    public int Size { get; }

    /// <summary>Gets the byte offsets of the registers (exit layout for RAX).</summary>
    public IReadOnlyList<int> RegisterOffsets => _offsets;

    /// <summary>Gets where the call number is on entry.</summary>
    public int EntryRaxOffset { get; }

    /// <summary>Gets where the call number is on exit, or -1.</summary>
    public int ExitNumberOffset { get; }

    /// <summary>Gets the mask applied to call numbers read from the frame.</summary>
    public ulong NumberMask { get; }

    /// <summary>Gets the offset of register <paramref name="field"/> (0 = RAX) for a trap in <paramref name="direction"/>.</summary>
    /// <param name="field">The <see cref="Registers"/> field index.</param>
    /// <param name="direction">Entry or exit.</param>
    /// <returns>The byte offset, or -1 when the frame does not hold it.</returns>
    public int OffsetOf(int field, SyscallDirection direction) =>
        field == 0 && direction == SyscallDirection.Enter ? EntryRaxOffset : _offsets[field];

    /// <summary>Reads the registers a frame holds (0 for those it does not).</summary>
    /// <param name="frame">The frame's bytes (at least <see cref="Size"/>).</param>
    /// <param name="direction">Entry (RAX is the call number) or exit (RAX is the return value).</param>
    /// <returns>The registers.</returns>
    public Registers Read(ReadOnlySpan<byte> frame, SyscallDirection direction)
    {
        if (frame.Length < Size)
        {
            throw new ArgumentException($"The frame is {Size} bytes, not {frame.Length}.", nameof(frame));
        }

        var registers = default(Registers);
        var fields = Registers.AsBytes(ref registers);
        for (var field = 0; field < _offsets.Length; field++)
        {
            var offset = OffsetOf(field, direction);
            if (offset >= 0)
            {
                frame.Slice(offset, 8).CopyTo(fields[(field * 8)..]);
            }
        }

        return registers;
    }
}
