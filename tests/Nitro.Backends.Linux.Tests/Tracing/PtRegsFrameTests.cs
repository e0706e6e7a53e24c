using Nitro.Backends.Linux.Tests.Decoding;
using Nitro.Backends.Linux.Tracing;
using Nitro.Reactive.Events;

namespace Nitro.Backends.Linux.Tests.Tracing;

public sealed class PtRegsFrameTests
{
    private const ulong Frame = 0xffffc900_0001_3f58;

    // struct pt_regs slot names, in memory order.
    private static readonly string[] s_slots =
        ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"];

    [Test]
    public void Read_maps_every_slot_to_its_register_with_ax_on_exit_and_orig_ax_on_entry()
    {
        var memory = FrameWithSlotNumbers();

        var exit = PtRegsFrame.Read(memory, Frame, SyscallDirection.Exit, out var origAx);
        var entry = PtRegsFrame.Read(memory, Frame, SyscallDirection.Enter, out _);

        Assert.Multiple(() =>
        {
            Assert.That(exit.R15, Is.EqualTo(Slot("r15")));
            Assert.That(exit.Rbp, Is.EqualTo(Slot("bp")));
            Assert.That(exit.Rbx, Is.EqualTo(Slot("bx")));
            Assert.That(exit.R11, Is.EqualTo(Slot("r11")));
            Assert.That(exit.R10, Is.EqualTo(Slot("r10")));
            Assert.That(exit.R9, Is.EqualTo(Slot("r9")));
            Assert.That(exit.R8, Is.EqualTo(Slot("r8")));
            Assert.That(exit.Rcx, Is.EqualTo(Slot("cx")));
            Assert.That(exit.Rdx, Is.EqualTo(Slot("dx")));
            Assert.That(exit.Rsi, Is.EqualTo(Slot("si")));
            Assert.That(exit.Rdi, Is.EqualTo(Slot("di")));
            Assert.That(exit.Rip, Is.EqualTo(Slot("ip")));
            Assert.That(exit.Rflags, Is.EqualTo(Slot("flags")));
            Assert.That(exit.Rsp, Is.EqualTo(Slot("sp")));
            Assert.That(exit.Rax, Is.EqualTo(Slot("ax")), "on exit RAX is the return value");
            Assert.That(entry.Rax, Is.EqualTo(Slot("orig_ax")), "on entry RAX is the call number");
            Assert.That(origAx, Is.EqualTo(Slot("orig_ax")));
        });
    }

    [Test]
    public void Setting_rax_on_exit_writes_pt_regs_ax_and_nothing_else()
    {
        var memory = FrameWithSlotNumbers();
        var before = memory.Snapshot(Frame, 21 * 8);
        var frame = PtRegsFrame.Access(memory, Frame, SyscallDirection.Exit, Trap());

        frame.GetRegisters(out var registers);
        registers.Rax = unchecked((ulong)-13);
        frame.SetRegisters(registers);

        var after = memory.Snapshot(Frame, 21 * 8);
        var changed = Enumerable.Range(0, 21).Where(i => BitConverter.ToUInt64(before, i * 8) != BitConverter.ToUInt64(after, i * 8)).Select(i => s_slots[i]);
        Assert.Multiple(() =>
        {
            Assert.That(changed, Is.EqualTo(new[] { "ax" }));
            Assert.That(BitConverter.ToInt64(after, 10 * 8), Is.EqualTo(-13));
        });
    }

    [Test]
    public void Setting_an_argument_on_entry_writes_its_slot()
    {
        var memory = FrameWithSlotNumbers();
        var frame = PtRegsFrame.Access(memory, Frame, SyscallDirection.Enter, Trap());

        frame.GetRegisters(out var registers);
        registers.Rdx = 5;
        registers.R10 = 6;
        frame.SetRegisters(registers);

        var after = memory.Snapshot(Frame, 21 * 8);
        Assert.Multiple(() =>
        {
            Assert.That(BitConverter.ToUInt64(after, 12 * 8), Is.EqualTo(5UL), "dx");
            Assert.That(BitConverter.ToUInt64(after, 7 * 8), Is.EqualTo(6UL), "r10");
            Assert.That(BitConverter.ToUInt64(after, 10 * 8), Is.EqualTo(Slot("ax")), "ax untouched");
            Assert.That(BitConverter.ToUInt64(after, 15 * 8), Is.EqualTo(Slot("orig_ax")), "orig_ax untouched");
        });
    }

    [Test]
    public void Changing_the_call_number_on_entry_is_refused_and_writes_nothing()
    {
        var memory = FrameWithSlotNumbers();
        var before = memory.Snapshot(Frame, 21 * 8);
        var frame = PtRegsFrame.Access(memory, Frame, SyscallDirection.Enter, Trap());

        frame.GetRegisters(out var registers);
        registers.Rax = 59;
        registers.Rdi = 1;

        Assert.Throws<NotSupportedException>(() => frame.SetRegisters(registers));
        Assert.That(memory.Snapshot(Frame, 21 * 8), Is.EqualTo(before));
    }

    [Test]
    public void Special_registers_are_the_traps_and_cannot_be_set()
    {
        var frame = PtRegsFrame.Access(FrameWithSlotNumbers(), Frame, SyscallDirection.Exit, Trap());

        frame.GetSpecialRegisters(out var special);

        Assert.That(special.Cr3, Is.EqualTo(0x1234_5000UL));
        Assert.Throws<NotSupportedException>(() => frame.SetSpecialRegisters(special));
    }

    private static ulong Slot(string name) => 0x1000 + (ulong)Array.IndexOf(s_slots, name);

    private static FakeVirtualMemory FrameWithSlotNumbers()
    {
        var memory = new FakeVirtualMemory();
        for (var i = 0; i < s_slots.Length; i++)
        {
            memory.PutUInt64(Frame + ((ulong)i * 8), Slot(s_slots[i]));
        }

        return memory;
    }

    private static NitroEvent Trap() =>
        new(0, SyscallDirection.Exit, SyscallMechanism.Syscall, default, new SpecialRegisters { Cr3 = 0x1234_5000 }, 0);
}
