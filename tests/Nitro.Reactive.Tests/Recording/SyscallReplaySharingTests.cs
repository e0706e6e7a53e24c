using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>What replay shares between calls (decoded maps, processes) and builds only on demand (arguments).</summary>
public sealed class SyscallReplaySharingTests
{
    [Test]
    public async Task Replayed_calls_with_byte_identical_decoded_values_share_one_map()
    {
        var process = new Process(7, "sh", null, null);
        Syscall Call(int i, string path, long fd) => MakeCall(i, "openat", process, new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["fd"] = fd,
            ["filename"] = path,
            ["unreadable"] = new Unreadable(0x1000, "not mapped"),
        });
        using var stream = new MemoryStream(WriteSyscalls([Call(0, "/etc/passwd", 3), Call(1, "/etc/passwd", 3), Call(2, "/etc/group", 3), Call(3, "/etc/passwd", 3)]));

        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed[1].Decoded, Is.SameAs(replayed[0].Decoded));
        Assert.That(replayed[3].Decoded, Is.SameAs(replayed[0].Decoded));
        Assert.That(replayed[2].Decoded, Is.Not.SameAs(replayed[0].Decoded));
        Assert.That(replayed[2].Decoded["filename"], Is.EqualTo("/etc/group"));
        Assert.That(replayed[3].Decoded["filename"], Is.EqualTo("/etc/passwd"));
        Assert.That(replayed[3].Decoded["fd"], Is.EqualTo(3L));
        Assert.That(replayed[3].Decoded["unreadable"], Is.EqualTo(new Unreadable(0x1000, "not mapped")));
    }

    [Test]
    public async Task Replayed_decoded_maps_holding_arrays_are_never_shared()
    {
        var process = new Process(7, "sh", null, null);
        Syscall Call(int i) => MakeCall(i, "execve", process, new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["argv"] = new[] { "ls", "-l" },
            ["buf"] = new byte[] { 1, 2, 3 },
        });
        using var stream = new MemoryStream(WriteSyscalls([Call(0), Call(1)]));

        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed[1].Decoded, Is.Not.SameAs(replayed[0].Decoded));
        Assert.That(replayed[1].Decoded["argv"], Is.Not.SameAs(replayed[0].Decoded["argv"]));
        Assert.That(replayed[1].Decoded["argv"], Is.EqualTo(new[] { "ls", "-l" }));
        Assert.That(replayed[1].Decoded["buf"], Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    [Test]
    public async Task A_pid_recorded_with_and_without_its_parent_replays_both_ways()
    {
        var withParent = new Process(7, "sh", 1, null);
        var withoutParent = new Process(7, "sh", null, null);
        using var stream = new MemoryStream(WriteSyscalls(
            [MakeCall(0, "read", withParent, null), MakeCall(1, "read", withoutParent, null), MakeCall(2, "read", withParent, null), MakeCall(3, "read", withParent, null)]));

        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed.Select(s => s.Process!.ParentPid), Is.EqualTo(new int?[] { 1, null, 1, 1 }));
        Assert.That(replayed[3].Process, Is.SameAs(replayed[2].Process), "the last process seen for a pid is reused");
    }

    [Test]
    public async Task Replayed_arguments_are_built_once_on_first_use_and_read_the_event_registers()
    {
        var call = MakeCall(0, "read", null, null);
        using var stream = new MemoryStream(WriteSyscalls([call]));

        var replayed = (await TraceReplay.Syscalls(stream).ToList()).Single();

        var first = replayed.Arguments;
        Assert.That(replayed.Arguments, Is.SameAs(first));
        Assert.That(replayed.Arguments.Convention, Is.SameAs(CallingConvention.LinuxX64));
        Assert.That(replayed.Arguments[0], Is.EqualTo(call.Event.Registers.Rdi));
        Assert.That(replayed.Arguments[1], Is.EqualTo(call.Event.Registers.Rsi));
        Assert.That(replayed.Arguments.CanReadMemory, Is.False);
    }

    [Test]
    public async Task A_paired_replayed_exit_keeps_its_own_arguments()
    {
        using var stream = new MemoryStream(WriteSyscalls([MakeCall(0, "read", null, null), MakeCall(1, "read", null, null, SyscallDirection.Exit)]));
        var replayed = await TraceReplay.Syscalls(stream).ToList();

        var paired = replayed[1].WithEntry(replayed[0]);

        Assert.That(paired.Entry, Is.SameAs(replayed[0]));
        Assert.That(paired.Arguments[0], Is.EqualTo(replayed[1].Event.Registers.Rdi));
        Assert.That(paired.Arguments.Convention, Is.SameAs(CallingConvention.LinuxX64));
    }

    private static Syscall MakeCall(int i, string name, Process? process, IReadOnlyDictionary<string, object?>? decoded, SyscallDirection direction = SyscallDirection.Enter)
    {
        var rng = new Random(100 + i);
        var registers = RandomRegisters(rng);
        var e = new NitroEvent(0, direction, SyscallMechanism.Syscall, in registers, RandomSpecialRegisters(new Random(1)), Origin + 5_000 + i);
        return new Syscall(e, 2, name, "__x64_sys_" + name, process, new ArgumentMap(e, CallingConvention.LinuxX64, null), 1000, decoded);
    }
}
