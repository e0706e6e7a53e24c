using Iced.Intel;
using Nitro.Backends.Linux.Profile;
using static Iced.Intel.AssemblerRegisters;

namespace Nitro.Backends.Linux.Tests.Profile;

/// <summary>Dispatchers assembled here with Iced: the shapes gcc emits for a switch, and code the decoder must refuse.</summary>
public sealed class SyscallSwitchDecoderTests
{
    private const ulong Start = 0xffff_ffff_8100_5630;
    private const ulong NiSyscall = 0xffff_ffff_8100_45c0;

    private static ulong Handler(int number) => 0xffff_ffff_8130_0000 + ((ulong)number * 0x100);

    [Test]
    public void Each_number_reaches_the_handler_of_its_leaf()
    {
        var a = new Assembler(64);
        Label three = a.CreateLabel(), high = a.CreateLabel(), zero = a.CreateLabel(), five = a.CreateLabel();
        a.db(0x0f, 0x1f, 0x44, 0x00, 0x00); // 'call __fentry__' patched to a 5-byte NOP
        a.cmp(esi, 3);
        a.je(three);
        a.ja(high);
        a.cmp(esi, 1);
        a.je(Handler(1)); // a conditional tail call
        a.jb(zero);
        a.jmp(Handler(2));
        a.Label(ref zero);
        a.jmp(Handler(0));
        a.Label(ref three);
        a.jmp(Handler(3));
        a.Label(ref high);
        a.mov(eax, esi); // the number copied to another register
        a.cmp(eax, 5);
        a.je(five);
        a.jmp(NiSyscall);
        a.Label(ref five);
        a.call(Handler(5)); // a call and a return instead of a tail call
        a.ret();

        var targets = SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 10);

        Assert.That(targets, Is.EqualTo(new[] { Handler(0), Handler(1), Handler(2), Handler(3), NiSyscall, Handler(5), NiSyscall, NiSyscall, NiSyscall, NiSyscall }));
    }

    [Test]
    public void Signed_compares_jne_and_test_for_zero_are_followed()
    {
        var a = new Assembler(64);
        Label notZero = a.CreateLabel(), small = a.CreateLabel();
        a.call(0xffff_ffff_8107_6650UL); // 'call __fentry__' before ftrace patched it: registers are preserved
        a.test(esi, esi);
        a.jne(notZero);
        a.jmp(Handler(0));
        a.Label(ref notZero);
        a.cmp(esi, 2);
        a.jle(small);
        a.cmp(esi, 3);
        a.jne(NiSyscall);
        a.jmp(Handler(3));
        a.Label(ref small);
        a.cmp(esi, 1);
        a.jge(Handler(2)); // 1 and 2
        a.jmp(NiSyscall);

        var targets = SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 5);

        Assert.That(targets, Is.EqualTo(new[] { Handler(0), Handler(2), Handler(2), Handler(3), NiSyscall }));
    }

    [Test]
    public void A_jump_table_is_refused_with_the_address_of_the_indirect_jump()
    {
        var a = new Assembler(64);
        a.cmp(esi, 400);
        a.ja(NiSyscall);
        a.jmp(__qword_ptr[rsi * 8 + 0x1000]);

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 512));
        Assert.That(error!.Message, Does.Contain("jmp").And.Contain("not a compare tree"));
    }

    [Test]
    public void Code_that_overwrites_the_number_is_refused()
    {
        var a = new Assembler(64);
        a.mov(esi, 7);
        a.cmp(esi, 7);
        a.je(Handler(7));
        a.jmp(NiSyscall);

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 8));
        Assert.That(error!.Message, Does.Contain("overwriting the number"));
    }

    [Test]
    public void A_branch_on_flags_of_no_comparison_is_refused()
    {
        var a = new Assembler(64);
        a.je(Handler(1));
        a.jmp(NiSyscall);

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 4));
        Assert.That(error!.Message, Does.Contain("no comparison"));
    }

    [Test]
    public void A_number_that_returns_without_a_handler_is_refused()
    {
        var a = new Assembler(64);
        a.cmp(esi, 1);
        a.je(Handler(1));
        a.mov(rax, -38);
        a.ret();

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 4));
        Assert.That(error!.Message, Does.Contain("ret"));
    }

    [Test]
    public void A_path_that_runs_off_the_function_is_refused()
    {
        var a = new Assembler(64);
        a.cmp(esi, 1);
        a.je(Handler(1));

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 4));
        Assert.That(error!.Message, Does.Contain("runs off the function"));
    }

    [Test]
    public void A_loop_stops_at_the_step_bound_instead_of_hanging()
    {
        var a = new Assembler(64);
        var top = a.CreateLabel();
        a.Label(ref top);
        a.cmp(esi, 1);
        a.jmp(top);

        var error = Assert.Throws<ProfileException>(() => SyscallSwitchDecoder.Decode(Assemble(a), Start, Register.ESI, 4));
        Assert.That(error!.Message, Does.Contain("instructions on its paths"));
    }

    private static byte[] Assemble(Assembler assembler)
    {
        using var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), Start);
        return stream.ToArray();
    }
}
