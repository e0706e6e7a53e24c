using System.Buffers;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Nitro.Kvm.GdbStub;

namespace Nitro.Benchmarks.GdbStub;

/// <summary>
/// The client's own cost per round trip: a stub on a unix socket that answers at once (no QEMU), so
/// what remains is framing, the socket, the reader loop and the hand-off to the caller.
/// </summary>
[MemoryDiagnoser]
public class GdbStubBenchmarks
{
    private static readonly byte[] s_registerReply = Encoding.ASCII.GetBytes(Frame(new string('a', 1216)));
    private readonly ArrayBufferWriter<byte> _payload = new(4096);
    private readonly byte[] _frame = new byte[64];
    private InstantStub _stub = null!;
    private GdbRemoteClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        _stub = new InstantStub();
        _client = GdbRemoteClient.ConnectUnixAsync(_stub.Path, TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stub.Dispose();
    }

    [Benchmark]
    public Task<ulong> ReadRegister_p() => _client.ReadRegisterAsync(GdbX86Registers.Rip);

    [Benchmark]
    public Task WriteRegister_P() => _client.WriteRegisterAsync(GdbX86Registers.R15, 0x1122334455667788);

    [Benchmark]
    public Task<GdbRegisterFile> ReadRegisters_g() => _client.ReadRegistersAsync();

    [Benchmark]
    public int Parse_g_reply()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_registerReply));
        _payload.Clear();
        GdbFraming.TryReadFrame(ref reader, _payload, GdbFraming.DefaultMaxPacketSize, out _);
        return _payload.WrittenCount;
    }

    [Benchmark]
    public int Encode_P() => GdbFraming.Encode("P1a=8877665544332211"u8, _frame);

    private static string Frame(string data)
    {
        var sum = 0;
        foreach (var c in data)
        {
            sum += c;
        }

        return $"${data}#{sum & 0xFF:x2}";
    }

    /// <summary>Answers the connect handshake, then p with 8 bytes, g with 608, anything else with OK.</summary>
    private sealed class InstantStub : IDisposable
    {
        private readonly Socket _listener;
        private readonly string _directory;
        private readonly Thread _thread;

        public InstantStub()
        {
            _directory = Directory.CreateTempSubdirectory("nitro-gdb-bench-").FullName;
            Path = System.IO.Path.Combine(_directory, "gdb.sock");
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixDomainSocketEndPoint(Path));
            _listener.Listen(1);
            _thread = new Thread(Serve) { IsBackground = true };
            _thread.Start();
        }

        public string Path { get; }

        public void Dispose()
        {
            _listener.Dispose();
            Directory.Delete(_directory, recursive: true);
        }

        private void Serve()
        {
            using var connection = _listener.Accept();
            var buffer = new byte[65536];
            var packet = new StringBuilder();
            var inPacket = false;
            var checksumLeft = -1;
            var target = Frame("l<target><architecture>i386:x86-64</architecture></target>");
            var p = Encoding.ASCII.GetBytes("+" + Frame("eb92a5bbffffffff"));
            var ok = Encoding.ASCII.GetBytes("+" + Frame("OK"));
            var g = Encoding.ASCII.GetBytes("+" + Encoding.ASCII.GetString(s_registerReply));
            int n;
            while ((n = connection.Receive(buffer)) > 0)
            {
                for (var i = 0; i < n; i++)
                {
                    var c = (char)buffer[i];
                    if (checksumLeft > 0 && --checksumLeft == 0)
                    {
                        var text = packet.ToString();
                        var reply = text[0] switch
                        {
                            'p' => p,
                            'g' => g,
                            'P' or 'Z' or 'z' or 'H' => ok,
                            _ when text.StartsWith("qSupported", StringComparison.Ordinal) => Encoding.ASCII.GetBytes("+" + Frame("PacketSize=1000;qXfer:features:read+;multiprocess+")),
                            _ when text.StartsWith("qXfer", StringComparison.Ordinal) => Encoding.ASCII.GetBytes("+" + target),
                            _ => Encoding.ASCII.GetBytes("+" + Frame(string.Empty)),
                        };
                        connection.Send(reply);
                        packet.Clear();
                    }
                    else if (inPacket)
                    {
                        if (c == '#')
                        {
                            inPacket = false;
                            checksumLeft = 2;
                        }
                        else
                        {
                            packet.Append(c);
                        }
                    }
                    else if (c == '$')
                    {
                        inPacket = true;
                    }
                }
            }
        }
    }
}
