using Nitro.Backends.Linux.Tests.Profile;
using Nitro.Backends.Linux.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Backends.Linux.Tests.Tracing;

/// <summary>The 32-bit gates of the test guest's real kernel (6.1 with int 0x80 as an IDT entry), found by decoding its entry code.</summary>
[Category("KernelImage")]
[CancelAfter(300_000)]
public sealed class Ia32TrapPlanTests
{
    [Test]
    public void The_exit_point_steps_over_the_whole_alternative_slot_after_the_dispatcher_call_before_the_kernel_patches_it()
    {
        // The image on disk has the ALTERNATIVE slot's build-time padding (one-byte NOPs); the running
        // kernel turns it into one NOP of the slot's length. Both states step over the same bytes.
        var backend = new LinuxBackend(KernelImage.Memory, KernelImage.Profile);
        var exit = backend.CreatePlan(null).ExitPoints.Single(p => p.Mechanism == SyscallMechanism.Syscall);
        var bytes = new byte[exit.Length + 1];
        KernelImage.Memory.Read(exit.Address - KernelImage.Profile.ImageDelta, bytes);

        Assert.That(exit.Length, Is.EqualTo(5), "the 6.1 slot after 'call do_syscall_64' is five bytes");
        Assert.That(bytes[..^1], Is.All.EqualTo((byte)0x90), "unpatched: one-byte NOPs");
        Assert.That(bytes[^1], Is.Not.EqualTo((byte)0x90), "the run ends where the slot ends");

        var callback = backend.CreatePlan(null, TrapStyle.Callback);
        Assert.That(callback.EntryPoints.Select(p => p.Address), Does.Contain(exit.Address - 5), "callback plans trap the call itself");
        Assert.That(callback.EntryPoints.Concat(callback.ExitPoints).Count(p => p.Emulation == TrapEmulation.Execute), Is.EqualTo(callback.EntryPoints.Count));
    }

    [Test]
    public void Full_plan_traps_every_32_bit_gate_at_its_first_instruction_and_after_its_dispatcher_call()
    {
        var symbols = KernelImage.Symbols;
        var backend = new LinuxBackend(KernelImage.Memory, KernelImage.Profile);
        var plan = backend.CreatePlan(null);

        Assert.That(backend.Ia32Error, Is.Null);
        var int80 = symbols.GetAddress("asm_int80_emulation");
        var sysenter = symbols.GetAddress("entry_SYSENTER_compat");
        var syscall = symbols.GetAddress("entry_SYSCALL_compat");
        var ia32Entries = plan.EntryPoints.Where(p => p.Mechanism == SyscallMechanism.Sysenter).ToList();
        Assert.That(ia32Entries.Select(p => p.Address), Is.EquivalentTo(new[] { int80, sysenter, syscall }));
        Assert.That(ia32Entries.All(p => p.Role == TrapRole.SyscallEntry));
        Assert.That(plan.Find(sysenter)!.Emulation, Is.EqualTo(TrapEmulation.SwapGs));
        Assert.That(plan.Find(syscall)!.Emulation, Is.EqualTo(TrapEmulation.SwapGs));
        Assert.That(plan.Find(int80)!.Emulation, Is.EqualTo(TrapEmulation.Skip), "ASM_CLAC is a NOP in the image (no SMAP patched in)");

        // asm_int80_emulation: ... mov rdi, rsp; call int80_emulation; jmp error_return.
        var ia32Exits = plan.ExitPoints.Where(p => p.Mechanism == SyscallMechanism.Sysenter).ToList();
        Assert.That(ia32Exits, Has.Count.EqualTo(3));
        Assert.That(ia32Exits.All(p => p.Role == TrapRole.SyscallExit));
        var int80Exit = ia32Exits.Single(p => p.Emulation == TrapEmulation.Jump);
        Assert.That(symbols.Lookup(int80Exit.Address)!.Value.Symbol.Name, Is.EqualTo("asm_int80_emulation"));
        Assert.That(symbols.Lookup(int80Exit.JumpTarget)!.Value.Offset, Is.Zero, "the jmp goes to the start of the shared exception return");
        Assert.That(int80Exit.ResumeAddress, Is.EqualTo(int80Exit.JumpTarget));

        // The compat sysenter / syscall gates: call do_SYSENTER_32 / do_fast_syscall_32; test eax, eax.
        var fast = ia32Exits.Where(p => p.Emulation == TrapEmulation.TestEaxEax).Select(p => symbols.Lookup(p.Address)!.Value.Symbol.Name);
        Assert.That(fast, Is.EquivalentTo(new[] { "entry_SYSENTER_compat_after_hwframe", "entry_SYSCALL_compat_after_hwframe" }));

        Assert.That(plan.EntryPoints.Single(p => p.Mechanism == SyscallMechanism.Syscall).Address, Is.EqualTo(KernelImage.Profile.EntrySyscall64));
    }

    [Test]
    public void Filtered_plan_looks_up_a_32_bit_only_call_in_the_ia32_table()
    {
        var backend = new LinuxBackend(KernelImage.Memory, KernelImage.Profile);

        // socketcall has no 64-bit number: the plan goes for its ia32 handler, which in this unbooted
        // image still begins with 'call __fentry__' (ftrace turns it into a NOP at boot).
        var error = Assert.Throws<Nitro.Backends.Linux.Profile.ProfileException>(() => backend.CreatePlan(["socketcall"]));
        Assert.That(error!.Message, Does.Contain("__ia32_compat_sys_socketcall"));

        var unknown = Assert.Throws<ArgumentException>(() => backend.CreatePlan(["no_such_call"]));
        Assert.That(unknown!.Message, Does.Contain("'no_such_call' is not a system call of this guest"));
    }
}
