using System.Runtime.CompilerServices;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Events;

/// <summary>
/// Register access to the user registers a guest kernel saved when the thread entered it (Linux
/// <c>pt_regs</c>, Windows <c>KTRAP_FRAME</c>), read and written in guest memory through a
/// <see cref="SavedFrameLayout"/> while the vCPU waits: a handler reads its arguments from there and
/// the return path restores the thread's registers from there. Only the slots that change are
/// written; the call number cannot be changed on entry (the kernel has already read it), and a
/// register the frame does not hold cannot be changed at all.
/// </summary>
public sealed class SavedUserFrame : IVcpuAccess
{
    private readonly IVirtualMemory _memory;
    private readonly ulong _address;
    private readonly SavedFrameLayout _layout;
    private readonly SyscallDirection _direction;
    private readonly SpecialRegisters _specialRegisters;
    private readonly string? _readOnlyReason;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="memory">The kernel's view of guest memory at the trap.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="layout">Where each register is in it.</param>
    /// <param name="direction">Entry (RAX is the call number) or exit (RAX is the return value).</param>
    /// <param name="specialRegisters">The vCPU's special registers at the trap (the frame holds none).</param>
    /// <param name="readOnlyReason">
    /// When set, the frame is read-only at this trap and every change is refused with this reason (a
    /// Windows handler: the kernel has already taken the arguments out of the frame).
    /// </param>
    public SavedUserFrame(IVirtualMemory memory, ulong address, SavedFrameLayout layout, SyscallDirection direction, in SpecialRegisters specialRegisters, string? readOnlyReason = null)
    {
        _readOnlyReason = readOnlyReason;
        _memory = memory ?? throw new ArgumentNullException(nameof(memory));
        _layout = layout ?? throw new ArgumentNullException(nameof(layout));
        _address = address;
        _direction = direction;
        _specialRegisters = specialRegisters;
    }

    /// <summary>Reads the registers a frame in guest memory holds.</summary>
    /// <param name="memory">The kernel's view of guest memory.</param>
    /// <param name="address">Where the frame is.</param>
    /// <param name="layout">Where each register is in it.</param>
    /// <param name="direction">Entry (RAX is the call number) or exit (RAX is the return value).</param>
    /// <returns>The registers (0 for those the frame does not hold).</returns>
    /// <exception cref="GuestMemoryException">The frame is not readable.</exception>
    public static Registers Read(IVirtualMemory memory, ulong address, SavedFrameLayout layout, SyscallDirection direction)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(layout);
        Span<byte> bytes = stackalloc byte[layout.Size];
        memory.Read(address, bytes);
        return layout.Read(bytes, direction);
    }

    /// <inheritdoc />
    public void GetRegisters(out Registers registers) => registers = Read(_memory, _address, _layout, _direction);

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">The frame is read-only at this trap, the call number changes on entry, or a register the frame does not hold changes; nothing is written then.</exception>
    public void SetRegisters(in Registers registers)
    {
        GetRegisters(out var current);
        var old = Registers.AsBytes(ref current);
        var wanted = Registers.AsBytes(ref Unsafe.AsRef(in registers));
        var fields = Registers.Size / 8;
        for (var field = 0; field < fields; field++)
        {
            if (wanted.Slice(field * 8, 8).SequenceEqual(old.Slice(field * 8, 8)))
            {
                continue;
            }

            if (_readOnlyReason is not null)
            {
                throw new NotSupportedException(_readOnlyReason);
            }

            if (field == 0 && _direction == SyscallDirection.Enter)
            {
                throw new NotSupportedException("The call number cannot be changed at this trap: the kernel has already read it from the saved frame.");
            }

            if (_layout.OffsetOf(field, _direction) < 0)
            {
                throw new NotSupportedException($"Register {field} (in Registers order) is not in the saved frame and cannot be changed here.");
            }
        }

        for (var field = 0; field < fields; field++)
        {
            var value = wanted.Slice(field * 8, 8);
            if (!value.SequenceEqual(old.Slice(field * 8, 8)))
            {
                _memory.Write(_address + (ulong)_layout.OffsetOf(field, _direction), value);
            }
        }
    }

    /// <inheritdoc />
    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = _specialRegisters;

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">Always: a saved user frame holds general-purpose registers only.</exception>
    public void SetSpecialRegisters(in SpecialRegisters registers) =>
        throw new NotSupportedException("A saved user frame holds general-purpose registers only; special registers belong to the vCPU.");
}
