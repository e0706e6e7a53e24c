using System.Buffers.Binary;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.GdbStub;

/// <summary>
/// The registers of one vCPU as read with <c>g</c>: the raw little-endian bytes and accessors by
/// gdb register number (see <see cref="GdbX86Registers"/>), with sizes and offsets taken from the
/// stub's target description.
/// </summary>
public sealed class GdbRegisterFile
{
    private readonly byte[] _raw;
    private readonly GdbRegisterLayout _layout;

    internal GdbRegisterFile(byte[] raw, GdbRegisterLayout layout)
    {
        _raw = raw;
        _layout = layout;
        var count = 0;
        while (count < layout.Count && layout.Offset(count) + layout.Size(count) <= raw.Length)
        {
            count++;
        }

        Count = count;
    }

    /// <summary>Gets the raw <c>g</c> packet bytes (registers in gdb order, little-endian).</summary>
    public ReadOnlySpan<byte> Raw => _raw;

    /// <summary>Gets the number of registers present in the packet.</summary>
    public int Count { get; }

    /// <summary>Gets the value of a register of at most 8 bytes, zero-extended.</summary>
    /// <param name="number">The gdb register number.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The packet has no such register, or it is wider than 8 bytes (use <see cref="GetBytes"/>).</exception>
    public ulong this[int number]
    {
        get
        {
            var bytes = GetBytes(number);
            if (bytes.Length > 8)
            {
                throw new ArgumentOutOfRangeException(nameof(number), number, $"Register {number} ({_layout.Name(number)}) is {bytes.Length} bytes wide; read it with GetBytes.");
            }

            Span<byte> value = stackalloc byte[8];
            value.Clear();
            bytes.CopyTo(value);
            return BinaryPrimitives.ReadUInt64LittleEndian(value);
        }
    }

    /// <summary>Gets the raw little-endian bytes of a register.</summary>
    /// <param name="number">The gdb register number.</param>
    /// <returns>The register's bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The packet has no such register.</exception>
    public ReadOnlySpan<byte> GetBytes(int number)
    {
        if ((uint)number >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, $"The register file holds registers 0 to {Count - 1}.");
        }

        return _raw.AsSpan(_layout.Offset(number), _layout.Size(number));
    }

    /// <summary>Gets the name of a register in the stub's target description (e.g. <c>k_gs_base</c>).</summary>
    /// <param name="number">The gdb register number.</param>
    /// <returns>The name.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The packet has no such register.</exception>
    public string GetName(int number)
    {
        if ((uint)number >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(number), number, $"The register file holds registers 0 to {Count - 1}.");
        }

        return _layout.Name(number);
    }

    /// <summary>Gets the general-purpose registers in <c>struct kvm_regs</c> order (rsp before rbp; rflags from eflags).</summary>
    /// <returns>The registers.</returns>
    public Registers ToRegisters()
    {
        var registers = default(Registers);
        var destination = Registers.AsBytes(ref registers);
        var numbers = _layout.GeneralPurpose;
        for (var i = 0; i < numbers.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[(8 * i)..], ValueOrZero(numbers[i]));
        }

        return registers;
    }

    /// <summary>
    /// Gets the special registers the gdbstub exposes: segment selectors, FS and GS bases, CR0, CR2,
    /// CR3, CR4, CR8 and EFER. Everything else (segment limits and attributes, TR, LDT, GDT, IDT,
    /// APIC base, interrupt bitmap) is zero: the stub does not report it.
    /// </summary>
    /// <returns>The special registers.</returns>
    public SpecialRegisters ToSpecialRegisters()
    {
        var n = _layout.Special;
        var sregs = default(SpecialRegisters);
        sregs.Cs.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cs]);
        sregs.Ds.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Ds]);
        sregs.Es.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Es]);
        sregs.Fs.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Fs]);
        sregs.Gs.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Gs]);
        sregs.Ss.Selector = (ushort)ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Ss]);
        sregs.Fs.Base = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.FsBase]);
        sregs.Gs.Base = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.GsBase]);
        sregs.Cr0 = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cr0]);
        sregs.Cr2 = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cr2]);
        sregs.Cr3 = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cr3]);
        sregs.Cr4 = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cr4]);
        sregs.Cr8 = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Cr8]);
        sregs.Efer = ValueOrZero(n[(int)GdbRegisterLayout.SpecialIndex.Efer]);
        return sregs;
    }

    /// <summary>Gets the kernel GS base (<c>k_gs_base</c>), which <see cref="SpecialRegisters"/> has no field for.</summary>
    public ulong KernelGsBase => ValueOrZero(_layout.Special[(int)GdbRegisterLayout.SpecialIndex.KernelGsBase]);

    private ulong ValueOrZero(int number) => number >= 0 && number < Count && _layout.Size(number) <= 8 ? this[number] : 0;
}
