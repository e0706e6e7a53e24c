using System.Reactive.Linq;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Tracing;
using Nitro.Kvm.Listening;
using Nitro.Kvm.Qemu;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;
using Nitro.Reactive.Syscalls;
using Nitro.Tests.Shared;

namespace Nitro.Backends.Linux.Tests.Tracing;

/// <summary>
/// A real 32-bit program (assembled here, no libc) in the real guest: its calls go through the vDSO,
/// which the kernel sets up for 32-bit <c>syscall</c> on an AMD CPU and for <c>sysenter</c> on an Intel
/// one, plus one <c>int $0x80</c>. Each gate must produce the ia32 names and the arguments the kernel
/// itself sees — including the second and sixth, which the vDSO moves.
/// </summary>
[Category("Integration")]
[NonParallelizable]
[CancelAfter(300_000)]
public sealed class Ia32CompatLiveTests
{
    private const string ProgramName = "nitro-compat";
    private const string Marker = "COMPATPROBE-DONE";
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(180);
    private static readonly Lazy<(string Kernel, string Initrd)> s_image = new(BuildImage);

    // ia32 numbers: 5 open, 4 write, 192 mmap2 (sys_mmap_pgoff), 6 close, 252 exit_group.
    private const string Source = """
        .section .data
        path:   .asciz "/tmp/nitro-compat.txt"
        missing:
                .asciz "/nonexistent/nitro-compat"
        message:
                .ascii "compat says hello\n"
                .set message_length, . - message
        done:   .ascii "COMPATPROBE-DONE\n"
                .set done_length, . - done

                .section .bss
                .lcomm vsyscall, 4
                .lcomm fd, 4

                .section .text
                .globl _start
        _start:
                mov (%esp), %eax                # argc
                lea 8(%esp,%eax,4), %esi        # envp
        1:      mov (%esi), %eax                # skip the environment up to its NULL
                add $4, %esi
                test %eax, %eax
                jnz 1b
        2:      mov (%esi), %eax                # auxiliary vector: find AT_SYSINFO (32)
                test %eax, %eax
                jz no_vsyscall
                cmp $32, %eax
                je 3f
                add $8, %esi
                jmp 2b
        3:      mov 4(%esi), %eax
                mov %eax, vsyscall

                mov $5, %eax                    # open(path, O_WRONLY|O_CREAT|O_TRUNC, 0640)
                mov $path, %ebx
                mov $01101, %ecx
                mov $0640, %edx
                call *vsyscall
                mov %eax, fd

                mov $4, %eax                    # write(fd, message, length)
                mov fd, %ebx
                mov $message, %ecx
                mov $message_length, %edx
                call *vsyscall

                mov $192, %eax                  # mmap2(0, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 7)
                xor %ebx, %ebx
                mov $4096, %ecx
                mov $1, %edx
                mov $0x22, %esi
                mov $-1, %edi
                push %ebp
                mov $7, %ebp
                call *vsyscall
                pop %ebp

                mov $6, %eax                    # close(fd)
                mov fd, %ebx
                call *vsyscall

                mov $5, %eax                    # open(missing, O_RDONLY) through int $0x80
                mov $missing, %ebx
                xor %ecx, %ecx
                xor %edx, %edx
                int $0x80

                mov $4, %eax                    # write(1, done, length)
                mov $1, %ebx
                mov $done, %ecx
                mov $done_length, %edx
                call *vsyscall

                mov $252, %eax                  # exit_group(0)
                xor %ebx, %ebx
                call *vsyscall

        no_vsyscall:
                mov $252, %eax                  # exit_group(3)
                mov $3, %ebx
                int $0x80
        """;

    [TestCase("qemu64", "entry_SYSCALL_compat", TrapEmulation.Skip, TestName = "32-bit syscall (AMD CPU): ia32 names and the kernel's view of every argument")]
    [TestCase("qemu64,vendor=GenuineIntel,+smap", "entry_SYSENTER_compat", TrapEmulation.Clac, TestName = "sysenter (Intel CPU with SMAP, the int 0x80 gate begins with clac): ia32 names and arguments")]
    public async Task Vdso_and_int80_calls_of_a_32_bit_program(string cpu, string vdsoGate, TrapEmulation int80Emulation)
    {
        var (calls, profile, plan, traps) = await TraceAsync(cpu);
        Assert.That(profile.TryGetSymbol(vdsoGate, out var vdsoEntry), Is.True);
        Assert.That(profile.TryGetSymbol("asm_int80_emulation", out var int80Entry), Is.True);
        Assert.That(plan.Find(int80Entry)?.Emulation, Is.EqualTo(int80Emulation), "ASM_CLAC: a NOP, or clac once the kernel patched it in for SMAP");

        var probe = calls.Where(c => c.Process?.Name == ProgramName).ToList();
        TestContext.Out.WriteLine($"{calls.Count} calls, traps {traps}; the probe's: {string.Join(", ", probe.Select(c => $"{c.Direction} {c.Name}"))}");
        Assert.That(traps, Is.EqualTo(calls.Count), "every trap became a call");

        // execve is a 64-bit call of the shell; everything after it is the program's own, all ia32.
        var own = probe.SkipWhile(c => c.Event.Mechanism == SyscallMechanism.Syscall).ToList();
        Assert.That(own.Select(c => c.Event.Mechanism), Is.All.EqualTo(SyscallMechanism.Sysenter));
        Assert.That(own.Select(c => c.Arguments.Convention), Is.All.SameAs(CallingConvention.LinuxIa32));
        var entries = own.Where(c => c.Direction == SyscallDirection.Enter).ToList();
        Assert.That(entries.Select(c => (c.Name, c.Number)), Is.EqualTo(new[]
        {
            ("open", 5L), ("write", 4L), ("mmap_pgoff", 192L), ("close", 6L), ("open", 5L), ("write", 4L), ("exit_group", 252L),
        }));
        Assert.That(entries.Select(c => c.Event.Registers.Rip), Is.EqualTo(new[] { vdsoEntry, vdsoEntry, vdsoEntry, vdsoEntry, int80Entry, vdsoEntry, vdsoEntry }), "which gate each call took");
        Assert.That(entries.Select(c => c.Process!.Pid).Distinct().Count(), Is.EqualTo(1));

        var exits = own.Where(c => c.Direction == SyscallDirection.Exit).ToList();
        Assert.That(exits.Select(c => c.Entry), Is.EqualTo(entries.Take(6)), "exits pair with their entries; exit_group never returns");
        AssertValues(exits);
        Assert.That(entries[6].Decoded["status"], Is.EqualTo(0L));
    }

    private static void AssertValues(List<Syscall> exits)
    {
        var open = exits[0];
        Assert.That(open.Entry!.Decoded["pathname"], Is.EqualTo("/tmp/nitro-compat.txt"));
        Assert.That(open.Entry.Decoded["flags"], Is.EqualTo("O_WRONLY|O_CREAT|O_TRUNC"));
        Assert.That(open.Entry.Decoded["mode"], Is.EqualTo("0640"));
        Assert.That(open.ReturnValue, Is.EqualTo(3), "the first free descriptor");

        var write = exits[1];
        Assert.That(write.Entry!.Decoded["fd"], Is.EqualTo(3L));
        Assert.That(write.Entry.Decoded["buf"], Is.EqualTo("compat says hello\n"u8.ToArray()), "the second argument, which 32-bit syscall passes in EBP");
        Assert.That(write.Entry.Decoded["count"], Is.EqualTo(18L));
        Assert.That(write.ReturnValue, Is.EqualTo(18));

        var map = exits[2];
        Assert.That(map.Entry!.Decoded["length"], Is.EqualTo(4096L));
        Assert.That(map.Entry.Decoded["prot"], Is.EqualTo("PROT_READ"));
        Assert.That(map.Entry.Decoded["flags"], Is.EqualTo("MAP_PRIVATE|MAP_ANONYMOUS"));
        Assert.That(map.Entry.Decoded["fd"], Is.EqualTo(-1L));
        Assert.That(map.Entry.Decoded["pgoffset"], Is.EqualTo(7L), "the sixth argument, which the vDSO leaves on the user stack");
        Assert.That(map.Decoded["return"], Does.Match("^0x[0-9a-f]{8}$"), "a 32-bit address");
        Assert.That(map.Arguments[5], Is.EqualTo(7UL), "at the exit, pt_regs holds the sixth argument where the kernel put it");

        Assert.That(exits[3].Entry!.Decoded["fd"], Is.EqualTo(3L));
        Assert.That(exits[3].ReturnValue, Is.Zero);
        Assert.That(exits[4].Entry!.Decoded["pathname"], Is.EqualTo("/nonexistent/nitro-compat"));
        Assert.That(exits[4].ReturnValue, Is.EqualTo(-2));
        Assert.That(exits[4].Decoded["errno"], Is.EqualTo("ENOENT"));
        Assert.That(exits[5].Entry!.Decoded["buf"], Is.EqualTo(System.Text.Encoding.ASCII.GetBytes(Marker + "\n")));
    }

    private static async Task<(List<Syscall> Calls, LinuxKernelProfile Profile, TrapPlan Plan, long Traps)> TraceAsync(string cpu)
    {
        var (kernel, initrd) = s_image.Value;
        var options = new QemuOptions { Kernel = kernel, Initrd = initrd, Append = "quiet panic=-1 nitro.wait" };
        options.ExtraArguments.Add("-cpu");
        options.ExtraArguments.Add(cpu);
        await using var machine = await QemuMachine.StartAsync(options);
        var cache = Directory.CreateTempSubdirectory("nitro-compat-profile-").FullName;
        try
        {
            await machine.WaitForConsoleAsync("NITRO-WAITING", s_deadline);
            using var memory = machine.OpenMemory();
            await machine.Qmp.StopAsync();
            LinuxBackend backend;
            try
            {
                backend = new LinuxBackend(memory, LinuxKernelProfile.LoadOrBuild(memory, cache));
            }
            finally
            {
                await machine.Qmp.ContinueAsync();
            }

            Assert.That(backend.Ia32Error, Is.Null);
            await using var listener = await GdbStubListener.ConnectAsync(machine.GdbSocketPath, TimeSpan.FromSeconds(10));
            var calls = new List<Syscall>();
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var plan = backend.CreatePlan(null);
            using (backend.Process(listener.Listen(plan)).Subscribe(calls.Add, ex => done.TrySetException(ex), () => done.TrySetResult()))
            {
                await listener.WaitUntilAttachedAsync();
                await machine.SendConsoleLineAsync(string.Empty);
                await machine.WaitForConsoleAsync(Marker, s_deadline);
                await done.Task.WaitAsync(s_deadline); // the guest powers off after its workload
                return (calls, backend.Profile, plan, listener.Statistics.Traps);
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    // binutils assembles and links 32-bit code without a 32-bit libc.
    private static (string Kernel, string Initrd) BuildImage() =>
        ProbeImage.Build(Source, [ProgramName], "/" + ProgramName, "probe.S", "-m32", "-nostdlib", "-static");
}
