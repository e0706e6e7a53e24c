using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;

namespace Nitro.Reactive.Syscalls;

/// <summary>
/// The arguments of one system call: raw values by index according to the calling convention,
/// bounded reads of what a pointer argument points to, and — while the vCPU is paused — writes
/// that change what the guest kernel will see. Remembers which arguments were modified.
/// </summary>
public sealed class ArgumentMap
{
    private readonly NitroEvent _event;
    private readonly IVirtualMemory? _memory;
    private HashSet<int>? _modified;

    // Copy-on-write: arguments are read from the event's registers until Set changes one;
    // only then does the map keep its own copy (saves a 144 B copy for every call never modified).
    private StrongBox<Registers>? _written;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="event">The trap whose registers hold the arguments.</param>
    /// <param name="convention">Where each argument lives.</param>
    /// <param name="memory">The caller's address space, for pointer and stack reads; <see langword="null"/> for recorded events.</param>
    public ArgumentMap(NitroEvent @event, CallingConvention convention, IVirtualMemory? memory)
    {
        _event = @event ?? throw new ArgumentNullException(nameof(@event));
        Convention = convention ?? throw new ArgumentNullException(nameof(convention));
        _memory = memory;
    }

    /// <summary>Gets the calling convention.</summary>
    public CallingConvention Convention { get; }

    /// <summary>Gets a value indicating whether pointer arguments can be followed (guest memory is attached).</summary>
    public bool CanReadMemory => _memory is not null;

    /// <summary>Gets the indices of the arguments changed through <see cref="Set"/>, in ascending order.</summary>
    public IReadOnlyList<int> Modified => _modified is null ? [] : [.. _modified.Order()];

    /// <summary>Gets the raw value of argument <paramref name="index"/>.</summary>
    /// <param name="index">The zero-based index.</param>
    /// <returns>The raw value (zero-extended for 32-bit conventions).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the convention.</exception>
    /// <exception cref="GuestMemoryException">A stack argument is not readable.</exception>
    public ulong this[int index] => GetRaw(index);

    /// <summary>Gets the raw value of argument <paramref name="index"/>.</summary>
    /// <param name="index">The zero-based index.</param>
    /// <returns>The raw value (zero-extended for 32-bit conventions).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the convention.</exception>
    /// <exception cref="GuestMemoryException">A stack argument is not readable.</exception>
    /// <exception cref="InvalidOperationException">A stack argument is asked for and no guest memory is attached.</exception>
    public ulong GetRaw(int index)
    {
        var location = Convention.Locate(index);
        ref readonly var registers = ref CurrentRegisters;
        ulong value;
        if (location.Kind == ArgumentLocationKind.Register)
        {
            value = Unsafe.As<Registers, ulong>(ref Unsafe.AddByteOffset(ref Unsafe.AsRef(in registers), (nint)location.Offset));
        }
        else
        {
            value = RequireMemory().ReadUInt64(registers.Rsp + (ulong)location.Offset);
        }

        return location.Width == 4 ? (uint)value : value;
    }

    /// <summary>Reads <paramref name="length"/> bytes at the address held by argument <paramref name="index"/>.</summary>
    /// <param name="index">The zero-based index of a pointer argument.</param>
    /// <param name="length">How many bytes, at most <see cref="VirtualMemoryExtensions.MaxReadLength"/>.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="GuestMemoryException">The range is not readable.</exception>
    /// <exception cref="InvalidOperationException">No guest memory is attached (recorded event).</exception>
    public byte[] ReadBytes(int index, int length) => RequireMemory().ReadBytes(GetRaw(index), length);

    /// <summary>Reads the NUL-terminated UTF-8 string that argument <paramref name="index"/> points to.</summary>
    /// <param name="index">The zero-based index of a pointer argument.</param>
    /// <param name="maxBytes">The bound in bytes.</param>
    /// <returns>The string, truncated at the bound or at the first unreadable page.</returns>
    /// <exception cref="GuestMemoryException">The first byte is not readable.</exception>
    /// <exception cref="InvalidOperationException">No guest memory is attached (recorded event).</exception>
    public string ReadUtf8String(int index, int maxBytes = 4096) => RequireMemory().ReadUtf8String(GetRaw(index), maxBytes);

    /// <summary>Reads the NUL-terminated UTF-16 string that argument <paramref name="index"/> points to.</summary>
    /// <param name="index">The zero-based index of a pointer argument.</param>
    /// <param name="maxChars">The bound in characters.</param>
    /// <returns>The string, truncated at the bound or at the first unreadable page.</returns>
    /// <exception cref="GuestMemoryException">The first character is not readable.</exception>
    /// <exception cref="InvalidOperationException">No guest memory is attached (recorded event).</exception>
    public string ReadUtf16String(int index, int maxChars = 2048) => RequireMemory().ReadUtf16String(GetRaw(index), maxChars);

    /// <summary>Reads the UTF-8 string argument <paramref name="index"/> points to, or an <see cref="Unreadable"/> marker.</summary>
    /// <param name="index">The zero-based index of a pointer argument.</param>
    /// <param name="maxBytes">The bound in bytes.</param>
    /// <returns>A <see cref="string"/> or an <see cref="Unreadable"/>.</returns>
    /// <exception cref="InvalidOperationException">No guest memory is attached (recorded event).</exception>
    public object ReadUtf8StringOrMarker(int index, int maxBytes = 4096)
    {
        ulong address = 0;
        try
        {
            address = GetRaw(index);
            return RequireMemory().ReadUtf8String(address, maxBytes);
        }
        catch (GuestMemoryException ex)
        {
            // Either the string or, for a stack argument, the slot holding the pointer is unreadable.
            return Unreadable.From(ex.Address != 0 ? ex.Address : address, ex);
        }
    }

    /// <summary>Reads the value of type <typeparamref name="T"/> that argument <paramref name="index"/> points to.</summary>
    /// <typeparam name="T">An unmanaged type of at most 4 KiB (an integer, a small struct).</typeparam>
    /// <param name="index">The zero-based index of a pointer argument.</param>
    /// <returns>The value.</returns>
    /// <exception cref="GuestMemoryException">The value is not readable.</exception>
    /// <exception cref="InvalidOperationException">No guest memory is attached (recorded event).</exception>
    public T ReadPointee<T>(int index)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if (size > 4096)
        {
            throw new NotSupportedException($"ReadPointee reads at most 4096 bytes; {typeof(T).Name} has {size}.");
        }

        T value = default;
        RequireMemory().Read(GetRaw(index), MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref value, 1)));
        return value;
    }

    /// <summary>
    /// Changes argument <paramref name="index"/> in the paused guest: a register through the
    /// event's vCPU handle, a stack slot through guest memory.
    /// </summary>
    /// <param name="index">The zero-based index.</param>
    /// <param name="value">The new raw value.</param>
    /// <remarks>
    /// Where the back end read the arguments from a user frame the kernel saved (Linux handler
    /// traps: <c>pt_regs</c>), the handle's <see cref="VcpuHandle.Target"/> is
    /// <see cref="VcpuRegisterTarget.SavedUserFrame"/> and the write goes to that frame in guest
    /// memory, which is where the handler reads its arguments from.
    /// </remarks>
    /// <exception cref="VcpuResumedException">The vCPU has resumed (the observer is not synchronous).</exception>
    /// <exception cref="InvalidOperationException">The event is not live (recorded or synthetic), or it is an exit: the call has already run (change its result with <see cref="Syscall.SetReturnValue"/>).</exception>
    /// <exception cref="GuestMemoryException">A stack slot or saved frame is not mapped.</exception>
    /// <exception cref="NotSupportedException">A stack slot or saved frame is in read-only guest memory.</exception>
    public void Set(int index, ulong value)
    {
        if (_event.Direction == SyscallDirection.Exit)
        {
            throw new InvalidOperationException(
                "The call has already run, so changing its arguments at the exit has no effect on it; change them on the entry, or the result with Syscall.SetReturnValue.");
        }

        var handle = _event.Handle ?? throw new InvalidOperationException(
            "This event has no live vCPU (it was replayed or built in a test), so its arguments cannot be changed.");
        var location = Convention.Locate(index);
        if (!handle.IsPaused)
        {
            throw new VcpuResumedException(handle.Vcpu);
        }

        if (location.Width == 4)
        {
            value = (uint)value;
        }

        if (location.Kind == ArgumentLocationKind.Register)
        {
            var live = handle.GetRegisters();
            Unsafe.As<Registers, ulong>(ref Unsafe.AddByteOffset(ref live, (nint)location.Offset)) = value;
            handle.SetRegisters(in live);
            var written = _written ??= new StrongBox<Registers>(_event.Registers);
            Unsafe.As<Registers, ulong>(ref Unsafe.AddByteOffset(ref written.Value, (nint)location.Offset)) = value;
        }
        else
        {
            Span<byte> bytes = stackalloc byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            RequireMemory().Write(CurrentRegisters.Rsp + (ulong)location.Offset, bytes);
        }

        (_modified ??= []).Add(index);
    }

    private ref readonly Registers CurrentRegisters => ref _written is null ? ref _event.Registers : ref _written.Value;

    private IVirtualMemory RequireMemory() => _memory ?? throw new InvalidOperationException(
        "No guest memory is attached to these arguments (a replayed or synthetic event): pointer and stack arguments cannot be read.");
}
