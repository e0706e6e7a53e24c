using System.Buffers.Binary;
using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>
/// The reader leaves an event's registers in the block until the block ends; a call must still
/// get the registers of its vCPU's last event, in the same block or an earlier one.
/// </summary>
public sealed class TraceReaderRegistersTests
{
    [Test]
    public async Task Calls_get_the_registers_of_their_vcpus_last_event_in_this_block_or_an_earlier_one()
    {
        var rng = new Random(700);
        var (r1, r2, r3) = (RandomRegisters(rng), RandomRegisters(rng), RandomRegisters(rng));
        var file = Concat(
            Header(),
            Block(0,
                Record(RecordKind.String, StringBody(0, "read"u8)),
                Record(RecordKind.String, StringBody(1, "linux-x64"u8)),
                Record(RecordKind.Event, Event(0, withSregs: true, r1)),
                Record(RecordKind.Event, Event(1, withSregs: true, r2)),
                Record(RecordKind.Syscall, Call(vcpu: 0))),
            Block(1,
                Record(RecordKind.Syscall, Call(vcpu: 1)),
                Record(RecordKind.Event, Event(0, withSregs: false, r3)),
                Record(RecordKind.Syscall, Call(vcpu: 0))),
            Block(2, Record(RecordKind.Syscall, Call(vcpu: 0)), Record(RecordKind.End, End(events: 3, syscalls: 4, strings: 2, sequence: 2))));

        var visitor = ReadAll(file, out _);
        using var stream = new MemoryStream(file);
        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(visitor.Events.Select(e => e.Registers), Is.EqualTo(new[] { r1, r2, r3 }));
        Registers[] expected = [r1, r2, r3, r3];
        Assert.That(visitor.Syscalls.Select(s => s.Event.Registers), Is.EqualTo(expected));
        Assert.That(replayed.Select(s => s.Event.Registers), Is.EqualTo(expected));
        Assert.That(replayed.Select(s => s.Vcpu), Is.EqualTo(new[] { 0, 1, 0, 0 }));
    }

    private static byte[] Event(int vcpu, bool withSregs, in Registers registers)
    {
        var body = EventBody(vcpu, withSregs);
        RegisterBytes(registers).CopyTo(body.AsSpan(16));
        return body;
    }

    private static byte[] End(ulong events, ulong syscalls, ulong strings, ulong sequence)
    {
        var body = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(body, events);
        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(8), syscalls);
        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(16), strings);
        BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(24), sequence);
        return body;
    }

    private static byte[] Call(int vcpu)
    {
        var body = SyscallBody(0, 0, 1);
        body[0] = (byte)vcpu;
        return body;
    }
}
