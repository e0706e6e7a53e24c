using System.Reactive.Linq;
using Nitro.Reactive.Events;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Syscalls;
using static Nitro.Reactive.Tests.Recording.TraceTestData;

namespace Nitro.Reactive.Tests.Recording;

/// <summary>Replayed calls kept after OnNext returns read what was recorded, however far the replay went on.</summary>
public sealed class HeldReplayedCallTests
{
    [Test]
    public async Task A_call_held_after_OnNext_reads_right_after_later_blocks_were_decoded()
    {
        var originals = TraceTestData.Syscalls(3000, seed: 21);
        using var stream = new MemoryStream(WriteSyscalls(originals, blockSize: 4096));
        var held = new List<(int Index, Syscall Call)>();
        var index = 0;

        // Hold every 97th call as it arrives, without touching anything but the reference.
        await TraceReplay.Syscalls(stream).Do(call =>
        {
            if (index % 97 == 0)
            {
                held.Add((index, call));
            }

            index++;
        });

        Assert.That(index, Is.EqualTo(originals.Count));
        Assert.That(held, Has.Count.GreaterThan(30));
        foreach (var (i, call) in held)
        {
            AssertSame(originals[i], call, i);
        }
    }

    [Test]
    public async Task Calls_kept_by_Buffer_read_right_after_the_replay_ended()
    {
        var originals = TraceTestData.Syscalls(1000, seed: 22);
        using var stream = new MemoryStream(WriteSyscalls(originals, blockSize: 4096));

        var buffers = await TraceReplay.Syscalls(stream).Buffer(64).ToList();

        var replayed = buffers.SelectMany(b => b).ToList();
        Assert.That(replayed, Has.Count.EqualTo(originals.Count));
        for (var i = 0; i < replayed.Count; i++)
        {
            AssertSame(originals[i], replayed[i], i);
        }
    }

    [Test]
    public async Task A_replayed_call_builds_one_event_when_threads_race_for_it()
    {
        using var stream = new MemoryStream(WriteSyscalls(TraceTestData.Syscalls(200, seed: 23)));
        var replayed = await TraceReplay.Syscalls(stream).ToList();

        foreach (var call in replayed)
        {
            var events = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => call.Event)));
            Assert.That(events.Distinct().Count(), Is.EqualTo(1));
            Assert.That(call.Event, Is.SameAs(events[0]));
            var arguments = call.Arguments;
            Assert.That(call.Arguments, Is.SameAs(arguments));
        }
    }

    [Test]
    public async Task A_replayed_call_reads_its_trap_fields_as_its_event_has_them()
    {
        var originals = TraceTestData.Syscalls(300, seed: 24);
        using var stream = new MemoryStream(WriteSyscalls(originals));
        var replayed = await TraceReplay.Syscalls(stream).ToList();

        Assert.That(replayed, Has.Count.EqualTo(originals.Count));
        for (var i = 0; i < replayed.Count; i++)
        {
            // Read before the event is built, then compared with the event built afterwards.
            var call = replayed[i];
            var (timestamp, vcpu, direction, returnValue) = (call.Timestamp, call.Vcpu, call.Direction, call.ReturnValue);
            Assert.That(timestamp, Is.EqualTo(originals[i].Event.Timestamp), $"call {i}");
            Assert.That((timestamp, vcpu, direction), Is.EqualTo((call.Event.Timestamp, call.Event.Vcpu, call.Event.Direction)), $"call {i}");
            Assert.That(returnValue, Is.EqualTo(direction == SyscallDirection.Exit ? (long)call.Event.Registers.Rax : null), $"call {i}");
        }
    }

    [Test]
    public async Task A_linked_copy_of_a_replayed_exit_shares_a_built_event_and_equals_an_unbuilt_one()
    {
        using var stream = new MemoryStream(WriteSyscalls(TraceTestData.Syscalls(400, seed: 25)));
        var replayed = await TraceReplay.Syscalls(stream).ToList();
        var pairs = replayed.Zip(replayed.Skip(1))
            .Where(p => p.First.Direction == SyscallDirection.Enter && p.Second.Direction == SyscallDirection.Exit)
            .ToList();
        Assert.That(pairs, Has.Count.GreaterThan(20));

        for (var i = 0; i < pairs.Count; i++)
        {
            var (entry, exit) = pairs[i];
            var builtFirst = i % 2 == 0;
            var exitEvent = builtFirst ? exit.Event : null;
            var linked = exit.WithEntry(entry);

            Assert.That(linked.Entry, Is.SameAs(entry));
            Assert.That(linked.Duration, Is.EqualTo(TimeSpan.FromTicks((exit.Timestamp - entry.Timestamp) / 100)));
            if (builtFirst)
            {
                Assert.That(linked.Event, Is.SameAs(exitEvent), $"pair {i}: the built event is shared");
            }
            else
            {
                Assert.That(linked.Event.Registers.Equals(exit.Event.Registers), Is.True, $"pair {i}: registers");
                Assert.That(linked.Event.SpecialRegisters.Equals(exit.Event.SpecialRegisters), Is.True, $"pair {i}: special registers");
                Assert.That((linked.Event.Timestamp, linked.Event.Vcpu, linked.Event.Mechanism), Is.EqualTo((exit.Event.Timestamp, exit.Event.Vcpu, exit.Event.Mechanism)), $"pair {i}");
            }
        }
    }

    private static void AssertSame(Syscall expected, Syscall actual, int i)
    {
        Assert.Multiple(() =>
        {
            Assert.That(actual.Name, Is.EqualTo(expected.Name), $"call {i}");
            Assert.That(actual.Number, Is.EqualTo(expected.Number), $"call {i}");
            Assert.That(actual.Direction, Is.EqualTo(expected.Direction), $"call {i}");
            Assert.That(actual.Vcpu, Is.EqualTo(expected.Vcpu), $"call {i}");
            Assert.That(actual.ThreadId, Is.EqualTo(expected.ThreadId), $"call {i}");
            Assert.That(actual.ReturnValue, Is.EqualTo(expected.ReturnValue), $"call {i}");
            Assert.That(actual.Process?.Pid, Is.EqualTo(expected.Process?.Pid), $"call {i}");
            Assert.That(actual.Process?.Name, Is.EqualTo(expected.Process?.Name), $"call {i}");
            Assert.That(actual.Decoded.Keys, Is.EquivalentTo(expected.Decoded.Keys), $"call {i}");
            foreach (var (key, value) in expected.Decoded)
            {
                Assert.That(actual.Decoded[key], Is.EqualTo(value), $"call {i} {key}");
            }

            Assert.That(actual.Event.Registers.Equals(expected.Event.Registers), Is.True, $"call {i}: registers");
            Assert.That(actual.Event.SpecialRegisters.Cr3, Is.EqualTo(expected.Event.SpecialRegisters.Cr3), $"call {i}");
            Assert.That(actual.Event.Timestamp, Is.EqualTo(expected.Event.Timestamp), $"call {i}");
            Assert.That(actual.Event.Mechanism, Is.EqualTo(expected.Event.Mechanism), $"call {i}");
            Assert.That(actual.Arguments[0], Is.EqualTo(expected.Arguments[0]), $"call {i}");
        });
    }
}
