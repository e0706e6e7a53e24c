using Nitro.Kvm.GdbStub;

namespace Nitro.Kvm.Tests.GdbStub;

[CancelAfter(20_000)]
public sealed class GdbRemoteClientTests
{
    [Test]
    public async Task Connect_negotiates_reads_target_xml_with_includes_and_keeps_acks_when_no_ack_mode_is_refused()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        Assert.That(client.AcksEnabled, Is.True);
        Assert.That(client.TargetXml, Does.Contain("i386:x86-64"));
        Assert.That(client.Features["PacketSize"], Is.EqualTo("1000"));
        Assert.That(client.Features["multiprocess"], Is.EqualTo("+"));
        Assert.That(client.IsRunning, Is.False);
    }

    [Test]
    public async Task Connect_stops_acking_when_the_stub_accepts_no_ack_mode()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync(acceptNoAck: true);
        await using var _ = stub;
        await using var __ = client;
        Assert.That(client.AcksEnabled, Is.False);

        var reply = client.SendCommandAsync("qC");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qC"));
        await stub.SendPacketAsync("QCp01.01");
        Assert.That(await reply, Is.EqualTo("QCp01.01"));

        // No '+' may follow: the next byte the stub sees is the next packet.
        var next = client.SendCommandAsync("qAttached");
        Assert.That((char)await stub.ReadByteAsync(), Is.EqualTo('$'));
        Assert.That(await stub.ReceivePacketAsync(dollarConsumed: true), Is.EqualTo("qAttached"));
        await stub.SendPacketAsync("1");
        Assert.That(await next, Is.EqualTo("1"));
    }

    [Test]
    public async Task Client_acks_every_packet_of_the_stub()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.SendCommandAsync("qAttached");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qAttached"));
        await stub.SendPacketAsync("1");
        Assert.That(await reply, Is.EqualTo("1"));
        Assert.That((char)await stub.ReadByteAsync(), Is.EqualTo('+'));
    }

    [Test]
    public async Task A_nack_makes_the_client_retransmit_the_same_packet()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.InsertBreakpointAsync(0xffffffff81c00080);
        Assert.That(await stub.ReceivePacketAsync(ack: false), Is.EqualTo("Z0,ffffffff81c00080,1"));
        await stub.SendRawAsync("-");
        Assert.That(await stub.ReceivePacketAsync(ack: false), Is.EqualTo("Z0,ffffffff81c00080,1"));
        await stub.SendRawAsync("-");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("Z0,ffffffff81c00080,1"));
        await stub.SendPacketAsync("OK");
        await reply;
    }

    [Test]
    public async Task Endless_nacks_fail_the_command_and_the_connection()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.SendCommandAsync("qC");
        for (var i = 0; i < 4; i++)
        {
            Assert.That(await stub.ReceivePacketAsync(ack: false), Is.EqualTo("qC"));
            await stub.SendRawAsync("-");
        }

        var error = Assert.ThrowsAsync<GdbStubException>(() => reply);
        Assert.That(error!.Message, Does.Contain("qC").And.Contain(stub.Path));
        Assert.ThrowsAsync<GdbStubException>(() => client.SendCommandAsync("qC"));
    }

    [Test]
    public async Task A_reply_with_a_bad_checksum_is_nacked_and_its_retransmission_accepted()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.SendCommandAsync("qC");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qC"));
        await stub.SendRawAsync("$QCp01.01#00");
        Assert.That((char)await stub.ReadByteAsync(), Is.EqualTo('-'));
        await stub.SendPacketAsync("QCp01.01");
        Assert.That(await reply, Is.EqualTo("QCp01.01"));
    }

    [Test]
    public async Task A_reply_arriving_byte_by_byte_completes_the_command()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.ReadRegisterAsync(GdbX86Registers.Rip);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("p10"));
        foreach (var c in FakeGdbStub.Frame("eb92a5bbffffffff"))
        {
            await stub.SendRawAsync(c.ToString());
            await Task.Yield();
        }

        Assert.That(await reply, Is.EqualTo(0xffffffffbba592ebUL));
    }

    [Test]
    public async Task Register_commands_use_the_sizes_of_the_target_description()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;

        var write = client.WriteRegisterAsync(GdbX86Registers.Eflags, 0x246);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("P11=46020000"));
        await stub.SendPacketAsync("OK");
        await write;

        write = client.WriteRegisterAsync(GdbX86Registers.R15, 0x1122334455667788);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("Pf=8877665544332211"));
        await stub.SendPacketAsync("E14");
        var error = Assert.ThrowsAsync<GdbStubException>(() => write);
        Assert.That(error!.Command, Is.EqualTo("Pf"));
        Assert.That(error.Message, Does.Contain("E14"));

        var sample = GdbRegisterFileTests.SampleFile();
        var read = client.ReadRegistersAsync();
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("g"));
        await stub.SendPacketAsync(Convert.ToHexStringLower(sample.Raw) + new string('x', 32));
        var file = await read;
        Assert.That(file.ToRegisters(), Is.EqualTo(sample.ToRegisters()));
        Assert.That(file.ToSpecialRegisters(), Is.EqualTo(sample.ToSpecialRegisters()));

        var writeAll = client.WriteRegistersAsync(sample.Raw.ToArray());
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("G" + Convert.ToHexStringLower(sample.Raw)));
        await stub.SendPacketAsync("OK");
        await writeAll;
    }

    [Test]
    public async Task Empty_answer_to_p_is_reported_with_the_target_xml_hint()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var read = client.ReadRegisterAsync(GdbX86Registers.Cr3);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("p1d"));
        await stub.SendPacketAsync(string.Empty);
        var error = Assert.ThrowsAsync<GdbStubException>(() => read);
        Assert.That(error!.Message, Does.Contain("target.xml").And.Contain("p1d"));
    }

    [Test]
    public async Task Breakpoints_use_Z_and_z_with_kind_1_and_refusals_name_the_command()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var insert = client.InsertBreakpointAsync(0xffffffff81000000, BreakpointKind.Hardware);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("Z1,ffffffff81000000,1"));
        await stub.SendPacketAsync("OK");
        await insert;

        var remove = client.RemoveBreakpointAsync(0x1000);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("z0,1000,1"));
        await stub.SendPacketAsync("E22");
        var error = Assert.ThrowsAsync<GdbStubException>(() => remove);
        Assert.That(error!.Message, Does.Contain("z0,1000,1").And.Contain("E22").And.Contain(stub.Path));
    }

    [Test]
    public async Task Continue_returns_on_the_ack_and_the_stop_reply_comes_through_WaitForStop()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var resume = client.ContinueAsync();
        Assert.That(await stub.ReceivePacketAsync(ack: false), Is.EqualTo("vCont;c"));
        Assert.That(resume.IsCompleted, Is.False, "continue waits for the stub's ack");
        await stub.SendRawAsync("+");
        await resume;
        Assert.That(client.IsRunning, Is.True);
        Assert.Throws<InvalidOperationException>(() => client.ReadRegistersAsync().GetAwaiter().GetResult());

        var stop = client.WaitForStopAsync().AsTask();
        await stub.SendPacketAsync("T05thread:p01.02;");
        Assert.That(await stop, Is.EqualTo(new StopReply(StopKind.Signal, 5, 2, StopReason.None, 0)));
        Assert.That(client.IsRunning, Is.False);
    }

    [Test]
    public async Task Step_names_the_thread_and_resuming_commands_are_refused_as_plain_commands()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        Assert.ThrowsAsync<ArgumentException>(() => client.SendCommandAsync("vCont;c"));
        Assert.ThrowsAsync<ArgumentException>(() => client.SendCommandAsync("c"));

        var step = client.StepAsync(2);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("vCont;s:p1.2"));
        await step;
        Assert.That(client.IsRunning, Is.True);
        await stub.SendPacketAsync("T05thread:p01.02;");
        Assert.That((await client.WaitForStopAsync()).VcpuIndex, Is.EqualTo(1));
    }

    [Test]
    public async Task Interrupt_sends_the_0x03_byte_and_returns_the_stop()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        Assert.ThrowsAsync<InvalidOperationException>(async () => await client.InterruptAsync());

        var resume = client.ContinueAsync();
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("vCont;c"));
        await resume;
        var interrupt = client.InterruptAsync().AsTask();
        Assert.That(await stub.ReadByteAsync(), Is.EqualTo(0x03));
        await stub.SendPacketAsync("T02thread:p01.01;");
        var stop = await interrupt;
        Assert.That((stop.Signal, stop.VcpuIndex), Is.EqualTo((2, 0)));
    }

    [Test]
    public async Task A_stop_reply_arriving_before_a_command_reply_is_not_taken_for_it()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var reply = client.SendCommandAsync("qAttached");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qAttached"));
        await stub.SendPacketAsync("T02thread:01;");
        await stub.SendPacketAsync("1");
        Assert.That(await reply, Is.EqualTo("1"));
        var stop = await client.WaitForStopAsync();
        Assert.That(stop.Signal, Is.EqualTo(2));

        // '?' asks for the stop reason: there the T packet is the answer.
        var why = client.SendCommandAsync("?");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("?"));
        await stub.SendPacketAsync("T05thread:p01.01;");
        Assert.That(await why, Is.EqualTo("T05thread:p01.01;"));
    }

    [Test]
    public async Task Continue_discards_a_stale_stop_reply()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        await stub.SendPacketAsync("T02thread:01;");
        Assert.That((char)await stub.ReadByteAsync(), Is.EqualTo('+'), "the client saw the unsolicited stop");

        var resume = client.ContinueAsync();
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("vCont;c"));
        await resume;
        var stop = client.WaitForStopAsync().AsTask();
        await Task.Delay(50);
        Assert.That(stop.IsCompleted, Is.False, "the stop from before the continue is over");
        await stub.SendPacketAsync("T05thread:p01.01;");
        Assert.That((await stop).Signal, Is.EqualTo(5));
    }

    [Test]
    public async Task Threads_are_listed_across_qf_and_qs_and_selected_with_Hg()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var list = client.ListThreadsAsync();
        await stub.ExpectAsync("qfThreadInfo", "mp01.01");
        await stub.ExpectAsync("qsThreadInfo", "mp01.02,p01.03");
        await stub.ExpectAsync("qsThreadInfo", "l");
        Assert.That(await list, Is.EqualTo(new[] { 1, 2, 3 }));

        var select = client.SelectThreadAsync(2);
        await stub.ExpectAsync("Hgp1.2", "OK");
        await select;
    }

    [Test]
    public async Task Memory_is_read_in_chunks_and_detach_names_the_process()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var read = client.ReadMemoryAsync(0xffffffff81000000, 1030);
        await stub.ExpectAsync("mffffffff81000000,400", new string('a', 2048));
        await stub.ExpectAsync("mffffffff81000400,6", "0f01f8909090");
        var bytes = await read;
        Assert.That(bytes, Has.Length.EqualTo(1030));
        Assert.That(bytes[1023], Is.EqualTo(0xaa));
        Assert.That(bytes[1024..1027], Is.EqualTo(new byte[] { 0x0f, 0x01, 0xf8 }));

        var detach = client.DetachAsync();
        await stub.ExpectAsync("D;1", "OK");
        await detach;
    }

    [Test]
    public async Task A_cancelled_command_drops_its_late_reply()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        using var cancel = new CancellationTokenSource();
        var slow = client.SendCommandAsync("qC", cancel.Token);
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qC"));
        await cancel.CancelAsync();
        Assert.That(async () => await slow, Throws.InstanceOf<OperationCanceledException>());

        var next = client.SendCommandAsync("qAttached");
        await stub.SendPacketAsync("QCp01.01");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qAttached"));
        await stub.SendPacketAsync("1");
        Assert.That(await next, Is.EqualTo("1"));
    }

    [Test]
    public async Task A_lost_connection_fails_the_pending_command_and_every_later_call()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var pending = client.ReadRegistersAsync();
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("g"));
        stub.Disconnect();

        var error = Assert.ThrowsAsync<GdbStubException>(() => pending);
        Assert.That(error!.Message, Does.Contain(stub.Path).And.Contain("'g'"));
        Assert.That(error.Command, Is.EqualTo("g"));
        var later = Assert.ThrowsAsync<GdbStubException>(() => client.SendCommandAsync("qC"));
        Assert.That(later!.Command, Is.EqualTo("qC"));
        Assert.ThrowsAsync<GdbStubException>(async () => await client.WaitForStopAsync());
    }

    [Test]
    public async Task Garbage_from_the_stub_fails_the_connection_cleanly()
    {
        var (stub, client) = await FakeGdbStub.ConnectAsync();
        await using var _ = stub;
        await using var __ = client;
        var pending = client.SendCommandAsync("qC");
        Assert.That(await stub.ReceivePacketAsync(), Is.EqualTo("qC"));
        await stub.SendRawAsync("$QC#q!");
        var error = Assert.ThrowsAsync<GdbStubException>(() => pending);
        Assert.That(error!.Message, Does.Contain("not GDB remote protocol"));
    }

    [Test]
    public async Task Connecting_to_nothing_fails_with_the_socket_name()
    {
        var path = Path.Combine(Path.GetTempPath(), "nitro-no-such-gdb.sock");
        var error = Assert.ThrowsAsync<GdbStubException>(() => GdbRemoteClient.ConnectUnixAsync(path, TimeSpan.FromMilliseconds(100)));
        Assert.That(error!.Message, Does.Contain(path));
        await Task.CompletedTask;
    }
}
