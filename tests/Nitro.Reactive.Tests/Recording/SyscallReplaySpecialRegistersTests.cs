using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

public sealed class SyscallReplaySpecialRegistersTests
{
    [Test]
    public async Task Syscall_replay_keeps_special_registers()
    {
        var syscalls = TraceTestData.Syscalls(500, seed: 32);
        using var stream = new MemoryStream(WriteSyscalls(syscalls, blockSize: 4096));
        var replayed = await TraceReplay.Syscalls(stream).ToList();
        Assert.That(replayed.Select(s => s.Event.SpecialRegisters), Is.EqualTo(syscalls.Select(s => s.Event.SpecialRegisters)));
    }

    [Test]
    public async Task Syscall_replay_sees_change_carried_by_raw_event()
    {
        var rng = new Random(5);
        var a = RandomSpecialRegisters(rng);
        var b = RandomSpecialRegisters(rng);
        var regs = RandomRegisters(rng);
        var e1 = new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, a, 1);
        var e2 = new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, b, 2);
        var e3 = new NitroEvent(0, SyscallDirection.Enter, SyscallMechanism.Syscall, regs, b, 3);
        using var ms = new MemoryStream();
        using (var w = new TraceWriter(ms, new TraceWriterOptions { LeaveOpen = true }))
        {
            w.WriteSyscall(new Syscall(e1, 0, "read", "read", null, new ArgumentMap(e1, CallingConvention.LinuxX64, null)));
            w.WriteEvent(e2);
            w.WriteSyscall(new Syscall(e3, 0, "read", "read", null, new ArgumentMap(e3, CallingConvention.LinuxX64, null)));
        }
        ms.Position = 0;
        var replayed = await TraceReplay.Syscalls(ms).ToList();
        Assert.That(replayed[0].Event.SpecialRegisters, Is.EqualTo(a));
        Assert.That(replayed[1].Event.SpecialRegisters, Is.EqualTo(b));
    }
}
