using System.Runtime.CompilerServices;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Memory;

namespace Nitro.Kvm.Plugin;

/// <summary>
/// Register access for a vCPU held by the plugin: the thread's saved user frame in guest memory,
/// read and written through the plan's <see cref="SavedFrameLayout"/>. Only the slots that change
/// are written; the call number cannot be changed on entry (the kernel has already read it).
/// </summary>
internal sealed class SavedFrameAccess(IVirtualMemory kernel, ulong frame, SavedFrameLayout layout, SyscallDirection direction, SpecialRegisters specialRegisters) : IVcpuAccess
{
    public void GetRegisters(out Registers registers)
    {
        Span<byte> bytes = stackalloc byte[layout.Size];
        kernel.Read(frame, bytes);
        registers = layout.Read(bytes, direction);
    }

    public void SetRegisters(in Registers registers)
    {
        GetRegisters(out var current);
        var old = Registers.AsBytes(ref current);
        var wanted = Registers.AsBytes(ref Unsafe.AsRef(in registers));
        for (var field = 0; field < Registers.Size / 8; field++)
        {
            var value = wanted.Slice(field * 8, 8);
            if (value.SequenceEqual(old.Slice(field * 8, 8)))
            {
                continue;
            }

            var offset = layout.OffsetOf(field, direction);
            if (offset < 0)
            {
                throw new NotSupportedException($"Register {field} of the Registers layout is not in the saved frame and cannot be changed here.");
            }

            if (field == 0 && direction == SyscallDirection.Enter)
            {
                throw new NotSupportedException("The call number cannot be changed here: the kernel has already read it from the frame.");
            }

            kernel.Write(frame + (ulong)offset, value);
        }
    }

    public void GetSpecialRegisters(out SpecialRegisters registers) => registers = specialRegisters;

    public void SetSpecialRegisters(in SpecialRegisters registers) =>
        throw new NotSupportedException("The trap plugin cannot change special registers: only the saved user frame is writable.");
}
