using System.Buffers.Binary;
using System.Text;
using Nitro.Reactive.Events;
using Nitro.Reactive.Memory;
using Nitro.Reactive.Syscalls;
using Nitro.Reactive.Tests.Memory;

namespace Nitro.Reactive.Tests.Syscalls;

public sealed class ArgumentMapTests
{
    private const ulong StackPage = 0x0000_7FFF_FFFE_0000;
    private const ulong StackFrame = 0x9000;
    private const ulong DataPage = 0x0000_5555_5555_4000;
    private const ulong DataFrame = 0xA000;

    [Test]
    public void LinuxX64_reads_rdi_rsi_rdx_r10_r8_r9()
    {
        var registers = new Registers { Rdi = 1, Rsi = 2, Rdx = 3, R10 = 4, R8 = 5, R9 = 6, Rcx = 99, R11 = 98 };
        var map = new ArgumentMap(Event(registers), CallingConvention.LinuxX64, memory: null);

        Assert.Multiple(() =>
        {
            Assert.That(Enumerable.Range(0, 6).Select(i => map[i]), Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5, 6 }));
            Assert.That(map.GetRaw(3), Is.EqualTo(4UL), "the fourth argument is r10, not rcx");
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = map[6]);
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = map[-1]);
        });
    }

    [Test]
    public void LinuxIa32_reads_ebx_ecx_edx_esi_edi_ebp_truncated_to_32_bits()
    {
        var registers = new Registers
        {
            Rbx = 0xDEAD_BEEF_0000_0001, Rcx = 0xFFFF_FFFF_0000_0002, Rdx = 3, Rsi = 0x1_0000_0004, Rdi = 5, Rbp = 0xFFFF_FFFF_FFFF_FFFF,
        };
        var map = new ArgumentMap(Event(registers), CallingConvention.LinuxIa32, memory: null);

        Assert.That(Enumerable.Range(0, 6).Select(i => map[i]), Is.EqualTo(new ulong[] { 1, 2, 3, 4, 5, 0xFFFF_FFFF }));
    }

    [Test]
    public void WindowsX64_reads_registers_then_the_user_stack_through_the_address_space()
    {
        var builder = new PageTableBuilder().Map4K(StackPage, StackFrame);
        const ulong rsp = StackPage + 0x100;
        for (var i = 4; i < 8; i++)
        {
            WriteUInt64(builder, StackFrame + 0x100 + 0x28 + (ulong)(8 * (i - 4)), 0x1000 + (ulong)i);
        }

        var registers = new Registers { R10 = 10, Rdx = 11, R8 = 12, R9 = 13, Rcx = 99, Rsp = rsp };
        var map = new ArgumentMap(Event(registers), CallingConvention.WindowsX64, builder.AddressSpace());

        Assert.Multiple(() =>
        {
            Assert.That(Enumerable.Range(0, 8).Select(i => map[i]), Is.EqualTo(new ulong[] { 10, 11, 12, 13, 0x1004, 0x1005, 0x1006, 0x1007 }));
            Assert.That(map.CanReadMemory, Is.True);
        });
    }

    [Test]
    public void String_marker_covers_an_unreadable_stack_slot_too()
    {
        var builder = new PageTableBuilder().Map4K(DataPage, DataFrame);
        var map = new ArgumentMap(Event(new Registers { Rsp = StackPage }), CallingConvention.WindowsX64, builder.AddressSpace());

        var marker = map.ReadUtf8StringOrMarker(4);

        Assert.That(marker, Is.InstanceOf<Unreadable>());
        Assert.That(((Unreadable)marker).Address, Is.EqualTo(StackPage + 0x28));
    }

    [Test]
    public void WindowsX64_stack_argument_on_an_unmapped_stack_throws_GuestMemoryException()
    {
        var builder = new PageTableBuilder();
        var map = new ArgumentMap(Event(new Registers { Rsp = StackPage }), CallingConvention.WindowsX64, builder.AddressSpace());

        Assert.Throws<GuestMemoryException>(() => _ = map[4]);
    }

    [Test]
    public void Pointer_arguments_are_followed_into_guest_memory()
    {
        var builder = new PageTableBuilder().Map4K(DataPage, DataFrame);
        builder.WriteBytes(DataFrame + 0x10, "/tmp/x\0"u8);
        builder.WriteBytes(DataFrame + 0x40, Encoding.Unicode.GetBytes("C:\\y\0"));
        builder.WriteBytes(DataFrame + 0x80, [0x78, 0x56, 0x34, 0x12]);
        var registers = new Registers { Rdi = DataPage + 0x10, Rsi = DataPage + 0x40, Rdx = DataPage + 0x80, R10 = 0xFFFF_8000_0000_0000 };
        var map = new ArgumentMap(Event(registers), CallingConvention.LinuxX64, builder.AddressSpace());

        Assert.Multiple(() =>
        {
            Assert.That(map.ReadUtf8String(0), Is.EqualTo("/tmp/x"));
            Assert.That(map.ReadUtf8String(0, maxBytes: 4), Is.EqualTo("/tmp"));
            Assert.That(map.ReadUtf16String(1), Is.EqualTo("C:\\y"));
            Assert.That(map.ReadBytes(2, 2), Is.EqualTo(new byte[] { 0x78, 0x56 }));
            Assert.That(map.ReadPointee<uint>(2), Is.EqualTo(0x1234_5678U));
            Assert.That(map.ReadUtf8StringOrMarker(0), Is.EqualTo("/tmp/x"));
            var marker = map.ReadUtf8StringOrMarker(3);
            Assert.That(marker, Is.InstanceOf<Unreadable>());
            Assert.That(((Unreadable)marker).Address, Is.EqualTo(0xFFFF_8000_0000_0000UL));
            Assert.Throws<GuestMemoryException>(() => map.ReadUtf8String(3));
        });
    }

    [Test]
    public void Reading_pointers_without_guest_memory_throws_InvalidOperationException()
    {
        var map = new ArgumentMap(Event(new Registers { Rdi = DataPage }), CallingConvention.LinuxX64, memory: null);

        Assert.Multiple(() =>
        {
            Assert.That(map.CanReadMemory, Is.False);
            Assert.That(map[0], Is.EqualTo(DataPage), "raw values need no memory");
            Assert.Throws<InvalidOperationException>(() => map.ReadUtf8String(0));
            Assert.Throws<InvalidOperationException>(() => map.ReadUtf16String(0));
            Assert.Throws<InvalidOperationException>(() => map.ReadBytes(0, 4));
            Assert.Throws<InvalidOperationException>(() => map.ReadPointee<long>(0));
            Assert.Throws<InvalidOperationException>(() => _ = new ArgumentMap(Event(default), CallingConvention.WindowsX64, null)[4]);
        });
    }

    [Test]
    public void Set_through_a_live_handle_changes_the_register_and_records_the_index()
    {
        var registers = new Registers { Rdi = 1, Rsi = 2, Rdx = 3, R10 = 4, Rax = 257 };
        var access = new InMemoryVcpu(registers);
        using var pause = VcpuHandle.Pause(0, access);
        var map = new ArgumentMap(Event(registers, pause.Handle), CallingConvention.LinuxX64, memory: null);

        map.Set(3, 0x4444);
        map.Set(1, 0x2222);

        Assert.Multiple(() =>
        {
            Assert.That(access.Registers.R10, Is.EqualTo(0x4444UL));
            Assert.That(access.Registers.Rsi, Is.EqualTo(0x2222UL));
            Assert.That(access.Registers.Rdi, Is.EqualTo(1UL), "other registers are untouched");
            Assert.That(access.Registers.Rax, Is.EqualTo(257UL));
            Assert.That(map[3], Is.EqualTo(0x4444UL), "the map sees its own change");
            Assert.That(map.Modified, Is.EqualTo(new[] { 1, 3 }));
        });
    }

    [Test]
    public void Set_on_a_32_bit_convention_writes_the_truncated_value()
    {
        var access = new InMemoryVcpu(new Registers { Rbx = 0xFFFF_FFFF_FFFF_FFFF });
        using var pause = VcpuHandle.Pause(1, access);
        var map = new ArgumentMap(Event(access.Registers, pause.Handle), CallingConvention.LinuxIa32, memory: null);

        map.Set(0, 0x1_2345_6789);

        Assert.Multiple(() =>
        {
            Assert.That(access.Registers.Rbx, Is.EqualTo(0x2345_6789UL));
            Assert.That(map[0], Is.EqualTo(0x2345_6789UL));
        });
    }

    [Test]
    public void Set_of_a_stack_argument_writes_the_stack_slot()
    {
        var builder = new PageTableBuilder().Map4K(StackPage, StackFrame);
        var registers = new Registers { Rsp = StackPage };
        using var pause = VcpuHandle.Pause(0, new InMemoryVcpu(registers));
        var map = new ArgumentMap(Event(registers, pause.Handle), CallingConvention.WindowsX64, builder.AddressSpace());

        map.Set(5, 0xABCD);

        Assert.Multiple(() =>
        {
            Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(builder.Bytes.AsSpan((int)StackFrame + 0x30)), Is.EqualTo(0xABCDUL));
            Assert.That(map[5], Is.EqualTo(0xABCDUL));
            Assert.That(map.Modified, Is.EqualTo(new[] { 5 }));
        });
    }

    [Test]
    public void Set_after_the_vcpu_resumed_throws_VcpuResumedException()
    {
        var access = new InMemoryVcpu(new Registers { Rdi = 1 });
        var pause = VcpuHandle.Pause(2, access);
        var map = new ArgumentMap(Event(access.Registers, pause.Handle), CallingConvention.LinuxX64, memory: null);
        pause.Dispose();

        var ex = Assert.Throws<VcpuResumedException>(() => map.Set(0, 5));

        Assert.Multiple(() =>
        {
            Assert.That(ex.Vcpu, Is.EqualTo(2));
            Assert.That(access.Registers.Rdi, Is.EqualTo(1UL));
            Assert.That(access.SetCalls, Is.Zero);
            Assert.That(map.Modified, Is.Empty);
        });
    }

    [Test]
    public void Set_on_an_event_without_a_handle_throws_InvalidOperationException()
    {
        var map = new ArgumentMap(Event(new Registers { Rdi = 1 }), CallingConvention.LinuxX64, memory: null);

        Assert.Multiple(() =>
        {
            Assert.Throws<InvalidOperationException>(() => map.Set(0, 5));
            Assert.That(map.Modified, Is.Empty);
            Assert.That(map[0], Is.EqualTo(1UL));
        });
    }

    [Test]
    public void Set_on_an_exit_throws_InvalidOperationException_and_writes_nothing()
    {
        var access = new InMemoryVcpu(new Registers { Rdi = 1 });
        using var pause = VcpuHandle.Pause(0, access);
        var exit = new NitroEvent(0, SyscallDirection.Exit, SyscallMechanism.Syscall, access.Registers, default, 0, pause.Handle);
        var map = new ArgumentMap(exit, CallingConvention.LinuxX64, memory: null);

        var ex = Assert.Throws<InvalidOperationException>(() => map.Set(0, 5));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("SetReturnValue"));
            Assert.That(access.SetCalls, Is.Zero);
            Assert.That(map.Modified, Is.Empty);
        });
    }

    private static NitroEvent Event(Registers registers, VcpuHandle? handle = null) =>
        new(0, SyscallDirection.Enter, SyscallMechanism.Syscall, registers, default, 0, handle);

    private static void WriteUInt64(PageTableBuilder builder, ulong physicalAddress, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        builder.WriteBytes(physicalAddress, bytes);
    }
}
