using System.Net.Sockets;
using System.Text;
using Nitro.Kvm.GdbStub;

namespace Nitro.Kvm.Tests.GdbStub;

/// <summary>
/// A scripted gdbstub on a unix socket in a temporary directory: the test reads the client's packets
/// and writes answers, byte-exact, so that framing, acks and routing can be checked without QEMU.
/// </summary>
internal sealed class FakeGdbStub : IAsyncDisposable
{
    public const string TargetXml =
        """<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386:x86-64</architecture><xi:include href="core.xml"/></target>""";

    public const string CoreXml =
        """
        <?xml version="1.0"?>
        <!DOCTYPE feature SYSTEM "gdb-target.dtd">
        <feature name="org.gnu.gdb.i386.core">
          <reg name="rax" bitsize="64"/><reg name="rbx" bitsize="64"/><reg name="rcx" bitsize="64"/><reg name="rdx" bitsize="64"/>
          <reg name="rsi" bitsize="64"/><reg name="rdi" bitsize="64"/><reg name="rbp" bitsize="64"/><reg name="rsp" bitsize="64"/>
          <reg name="r8" bitsize="64"/><reg name="r9" bitsize="64"/><reg name="r10" bitsize="64"/><reg name="r11" bitsize="64"/>
          <reg name="r12" bitsize="64"/><reg name="r13" bitsize="64"/><reg name="r14" bitsize="64"/><reg name="r15" bitsize="64"/>
          <reg name="rip" bitsize="64"/><reg name="eflags" bitsize="32"/>
          <reg name="cs" bitsize="32"/><reg name="ss" bitsize="32"/><reg name="ds" bitsize="32"/><reg name="es" bitsize="32"/>
          <reg name="fs" bitsize="32"/><reg name="gs" bitsize="32"/>
          <reg name="fs_base" bitsize="64"/><reg name="gs_base" bitsize="64"/><reg name="k_gs_base" bitsize="64"/>
          <reg name="cr0" bitsize="64"/><reg name="cr2" bitsize="64"/><reg name="cr3" bitsize="64"/><reg name="cr4" bitsize="64"/>
          <reg name="cr8" bitsize="64"/><reg name="efer" bitsize="64"/>
        </feature>
        """;

    private readonly Socket _listener;
    private readonly string _directory;
    private readonly byte[] _buffer = new byte[65536];
    private int _start;
    private int _end;
    private Socket? _connection;

    private FakeGdbStub(Socket listener, string directory, string path)
    {
        _listener = listener;
        _directory = directory;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Gets or sets whether the stub acks each packet it receives with '+'.</summary>
    public bool Acks { get; set; } = true;

    public static FakeGdbStub Start()
    {
        var directory = Directory.CreateTempSubdirectory("nitro-gdb-").FullName;
        var path = System.IO.Path.Combine(directory, "gdb.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        return new FakeGdbStub(listener, directory, path);
    }

    /// <summary>Connects a client and plays the connect handshake QEMU 7.2 plays.</summary>
    public static async Task<(FakeGdbStub Stub, GdbRemoteClient Client)> ConnectAsync(bool acceptNoAck = false)
    {
        var stub = Start();
        var connect = GdbRemoteClient.ConnectUnixAsync(stub.Path, TimeSpan.FromSeconds(10));
        await stub.HandshakeAsync(acceptNoAck);
        return (stub, await connect);
    }

    public async Task HandshakeAsync(bool acceptNoAck = false)
    {
        await ExpectAsync("qSupported:", "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+", prefix: true);
        await ExpectAsync("QStartNoAckMode", acceptNoAck ? "OK" : string.Empty);
        if (acceptNoAck)
        {
            Acks = false;
        }

        await ExpectAsync("vCont?", "vCont;c;C;s;S");
        await ExpectAsync("qXfer:features:read:target.xml:0,fa0", "l" + TargetXml);
        await ExpectAsync("qXfer:features:read:core.xml:0,fa0", "m" + CoreXml[..100]);
        await ExpectAsync("qXfer:features:read:core.xml:64,fa0", "l" + CoreXml[100..]);
        if (Acks && await ReadByteAsync() != '+')
        {
            throw new AssertionException("the client did not ack the last handshake reply");
        }
    }

    public async Task ExpectAsync(string command, string reply, bool prefix = false)
    {
        var received = await ReceivePacketAsync();
        if (prefix ? !received.StartsWith(command, StringComparison.Ordinal) : !string.Equals(received, command, StringComparison.Ordinal))
        {
            throw new AssertionException($"fake stub expected '{command}', got '{received}'");
        }

        await SendPacketAsync(reply);
    }

    /// <summary>Reads the next packet from the client, skipping its acks; acks it when <see cref="Acks"/>.</summary>
    public async Task<string> ReceivePacketAsync(bool ack = true, bool dollarConsumed = false)
    {
        int b;
        while (!dollarConsumed && await ReadByteAsync() != '$')
        {
        }

        var data = new StringBuilder();
        while ((b = await ReadByteAsync()) != '#')
        {
            data.Append((char)b);
        }

        var checksum = $"{(char)await ReadByteAsync()}{(char)await ReadByteAsync()}";
        Assert.That(checksum, Is.EqualTo(Checksum(data.ToString())), "the client's checksum");
        if (ack && Acks)
        {
            await SendRawAsync("+");
        }

        return data.ToString();
    }

    /// <summary>Reads the next byte the client sends (acks included).</summary>
    public async Task<int> ReadByteAsync()
    {
        if (_start == _end)
        {
            var connection = await GetConnectionAsync();
            _start = 0;
            _end = await connection.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None);
            if (_end == 0)
            {
                throw new EndOfStreamException("the client closed the connection");
            }
        }

        return _buffer[_start++];
    }

    public Task SendPacketAsync(string data) => SendRawAsync(Frame(data));

    public async Task SendRawAsync(string raw)
    {
        var connection = await GetConnectionAsync();
        await connection.SendAsync(Encoding.Latin1.GetBytes(raw), SocketFlags.None);
    }

    public static string Frame(string data) => "$" + data + "#" + Checksum(data);

    public static string Checksum(string raw)
    {
        var sum = 0;
        foreach (var c in raw)
        {
            sum += c;
        }

        return (sum & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Disconnect()
    {
        _connection?.Shutdown(SocketShutdown.Both);
        _connection?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        _connection?.Dispose();
        _listener.Dispose();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }

    private async Task<Socket> GetConnectionAsync() => _connection ??= await _listener.AcceptAsync();
}
