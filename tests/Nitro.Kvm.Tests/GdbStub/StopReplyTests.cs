using System.Text;
using Nitro.Kvm.GdbStub;

namespace Nitro.Kvm.Tests.GdbStub;

public sealed class StopReplyTests
{
    [Test]
    public void T_reply_names_signal_thread_vcpu_and_reason()
    {
        Assert.That(StopReply.TryParse("T05thread:p01.02;swbreak:;"u8, out var stop), Is.True);
        Assert.That(stop, Is.EqualTo(new StopReply(StopKind.Signal, 5, 2, StopReason.SoftwareBreakpoint, 0)));
        Assert.That(stop.VcpuIndex, Is.EqualTo(1));
        Assert.That(stop.IsExit, Is.False);
    }

    [Test]
    public void T_reply_without_multiprocess_and_with_register_values_parses()
    {
        Assert.That(StopReply.TryParse("T02thread:01;10:f0ff000000000000;core:0;"u8, out var stop), Is.True);
        Assert.That((stop.Signal, stop.ThreadId, stop.VcpuIndex, stop.Reason), Is.EqualTo((2, 1, 0, StopReason.None)));
    }

    [Test]
    public void Watchpoint_reply_carries_the_data_address()
    {
        Assert.That(StopReply.TryParse("T05thread:p01.01;watch:ffffffff82000360;"u8, out var stop), Is.True);
        Assert.That((stop.Reason, stop.WatchAddress), Is.EqualTo((StopReason.Watchpoint, 0xffffffff82000360UL)));
    }

    [TestCase("W00", StopKind.Exited, 0)]
    [TestCase("W01;process:1", StopKind.Exited, 1)]
    [TestCase("X09", StopKind.Terminated, 9)]
    [TestCase("S05", StopKind.Signal, 5)]
    public void Exit_terminate_and_short_signal_replies_parse(string text, StopKind kind, int signal)
    {
        Assert.That(StopReply.TryParse(Encoding.Latin1.GetBytes(text), out var stop), Is.True);
        Assert.That((stop.Kind, stop.Signal, stop.VcpuIndex), Is.EqualTo((kind, signal, -1)));
        Assert.That(stop.IsExit, Is.EqualTo(kind != StopKind.Signal));
    }

    [TestCase("OK")]
    [TestCase("E22")]
    [TestCase("")]
    [TestCase("T5")]
    [TestCase("Tzz")]
    [TestCase("T05thread:p01.zz;")]
    public void Other_packets_are_not_stop_replies(string text)
    {
        Assert.That(StopReply.TryParse(Encoding.Latin1.GetBytes(text), out _), Is.False);
    }
}
