using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Nitro.Kvm.GdbStub;

/// <summary>
/// A client of the GDB Remote Serial Protocol for QEMU's gdbstub (all-stop mode): one command at a
/// time, acknowledgements kept on (QEMU does not offer <c>QStartNoAckMode</c>), stop replies
/// delivered through <see cref="WaitForStopAsync"/>. A dedicated loop reads the socket; commands
/// complete as soon as their reply is parsed.
/// </summary>
/// <remarks>
/// QEMU pauses the guest when a gdb client connects. While the target runs (after
/// <see cref="ContinueAsync"/>), only <see cref="WaitForStopAsync"/> and <see cref="InterruptAsync"/>
/// are allowed: QEMU would take any other byte as a request to stop.
/// Methods may be called from any thread but are meant for one caller at a time.
/// </remarks>
public sealed partial class GdbRemoteClient : IAsyncDisposable
{
    private const int MaxRetransmits = 3;
    private const int MaxBadChecksums = 16;
    private const int MaxMemoryChunk = 1024;
    private static readonly byte[] s_readRegisters = "g"u8.ToArray();
    private static readonly byte[] s_continue = "c"u8.ToArray();
    private static readonly byte[] s_continueAll = "vCont;c"u8.ToArray();
    private static readonly byte[] s_step = "s"u8.ToArray();
    private static readonly byte[] s_detach = "D"u8.ToArray();
    private static readonly byte[] s_detachProcess = "D;1"u8.ToArray();

    private readonly Socket _socket;
    private readonly PipeReader _reader;
    private readonly string _endpoint;
    private readonly Lock _writeLock = new();
    private readonly Lock _stateLock = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Channel<StopReply> _stops = Channel.CreateUnbounded<StopReply>(new UnboundedChannelOptions { SingleWriter = true, AllowSynchronousContinuations = false });
    private readonly ArrayBufferWriter<byte> _payload = new(4096);
    private readonly int _maxPacketSize;
    private byte[] _lastPacket = new byte[256];
    private int _lastPacketLength;
    private int _retransmits;
    private int _badChecksums;
    private TaskCompletionSource<byte[]>? _pendingReply;
    private string? _pendingCommand;
    private bool _pendingExpectsStop;
    private TaskCompletionSource? _pendingAck;
    private int _orphans;
    private volatile bool _running;
    private volatile bool _acks = true;
    private volatile GdbStubException? _failure;
    private Task _readLoop = Task.CompletedTask;
    private GdbRegisterLayout _layout = GdbRegisterLayout.X86_64Fallback;
    private bool _multiprocess;
    private bool _vCont;
    private int _disposed;

    internal GdbRemoteClient(Socket socket, string endpoint, int maxPacketSize = GdbFraming.DefaultMaxPacketSize)
    {
        _socket = socket;
        _endpoint = endpoint;
        _maxPacketSize = maxPacketSize;
        _reader = PipeReader.Create(new NetworkStream(socket, ownsSocket: false), new StreamPipeReaderOptions(bufferSize: 64 * 1024));
    }

    /// <summary>Gets the socket this client talks to (a path or host:port).</summary>
    public string Endpoint => _endpoint;

    /// <summary>Gets the features the stub listed in its <c>qSupported</c> answer (<c>name</c> → <c>+</c>, <c>-</c>, <c>?</c> or the value after <c>=</c>).</summary>
    public IReadOnlyDictionary<string, string> Features { get; private set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets a value indicating whether packets are acknowledged (true unless the stub accepted <c>QStartNoAckMode</c>).</summary>
    public bool AcksEnabled => _acks;

    /// <summary>Gets a value indicating whether the target runs (continued and no stop reply received yet).</summary>
    public bool IsRunning => _running;

    /// <summary>Gets the target description read at connect time (target.xml), or an empty string when the stub has none.</summary>
    public string TargetXml { get; private set; } = string.Empty;

    /// <summary>Connects to a gdbstub on a unix socket (<c>-chardev socket,path=…,server=on -gdb chardev:…</c>) and negotiates.</summary>
    /// <param name="path">The socket path.</param>
    /// <param name="timeout">How long to keep trying to connect (QEMU may still be starting) and to negotiate.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The connected client; the target is stopped (QEMU pauses the guest when a client connects).</returns>
    /// <exception cref="GdbStubException">Nothing accepted the connection in time, or the peer is not a gdbstub.</exception>
    public static async Task<GdbRemoteClient> ConnectUnixAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var socket = await ConnectWithRetryAsync(
            () => new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified),
            new UnixDomainSocketEndPoint(path),
            path,
            timeout,
            cancellationToken);
        return await InitializeAsync(new GdbRemoteClient(socket, path), timeout, cancellationToken);
    }

    /// <summary>Connects to a gdbstub on TCP (<c>-gdb tcp:HOST:PORT</c>) and negotiates.</summary>
    /// <param name="host">The host name or address.</param>
    /// <param name="port">The port.</param>
    /// <param name="timeout">How long to keep trying to connect and to negotiate.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The connected client; the target is stopped.</returns>
    /// <exception cref="GdbStubException">Nothing accepted the connection in time, or the peer is not a gdbstub.</exception>
    public static async Task<GdbRemoteClient> ConnectTcpAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        var endpoint = $"{host}:{port}";
        EndPoint address = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        var socket = await ConnectWithRetryAsync(
            () => new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true },
            address,
            endpoint,
            timeout,
            cancellationToken);
        return await InitializeAsync(new GdbRemoteClient(socket, endpoint), timeout, cancellationToken);
    }

    /// <summary>Sends a command and returns its reply (e.g. <c>qC</c> → <c>QCp1.1</c>).</summary>
    /// <param name="command">The packet data, without framing; ASCII.</param>
    /// <param name="cancellationToken">Cancels the wait for the reply (a late reply is then discarded).</param>
    /// <returns>The reply data; empty when the stub does not support the command.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    /// <exception cref="ArgumentException">The command resumes the target (use <see cref="ContinueAsync"/> or <see cref="StepAsync"/>).</exception>
    public async Task<string> SendCommandAsync(string command, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (command is "c" or "s" || command.StartsWith("vCont;", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{command}' resumes the target and has no reply; use ContinueAsync or StepAsync, then WaitForStopAsync.", nameof(command));
        }

        var data = Encoding.Latin1.GetBytes(command);
        var reply = await ExchangeAsync(data, data.Length, command, expectsStop: string.Equals(command, "?", StringComparison.Ordinal), cancellationToken);
        return Encoding.Latin1.GetString(reply);
    }

    /// <summary>Sends <c>qSupported</c> and returns the stub's feature list (also kept in <see cref="Features"/>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Feature name → <c>+</c>, <c>-</c>, <c>?</c> or value.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    public async Task<IReadOnlyDictionary<string, string>> QuerySupportedAsync(CancellationToken cancellationToken = default)
    {
        var reply = await SendCommandAsync("qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=i386", cancellationToken);
        var features = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in reply.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                features[item[..eq]] = item[(eq + 1)..];
            }
            else if (item[^1] is '+' or '-' or '?')
            {
                features[item[..^1]] = item[^1..];
            }
        }

        _multiprocess = features.TryGetValue("multiprocess", out var mp) && string.Equals(mp, "+", StringComparison.Ordinal);
        Features = features;
        return features;
    }

    /// <summary>Reads a target description file with <c>qXfer:features:read</c> (target.xml by default).</summary>
    /// <param name="annex">The file name, e.g. <c>target.xml</c> or a file it includes.</param>
    /// <param name="cancellationToken">Cancels the transfer.</param>
    /// <returns>The file's text.</returns>
    /// <exception cref="GdbStubException">The stub does not serve the file, or the connection was lost.</exception>
    public async Task<string> ReadTargetXmlAsync(string annex = "target.xml", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(annex);
        var text = new ArrayBufferWriter<byte>(4096);
        const int chunk = 4000;
        while (true)
        {
            var command = $"qXfer:features:read:{annex}:{text.WrittenCount:x},{chunk:x}";
            var data = Encoding.Latin1.GetBytes(command);
            var reply = await ExchangeAsync(data, data.Length, command, expectsStop: false, cancellationToken);
            if (reply.Length == 0 || reply[0] is not ((byte)'m' or (byte)'l'))
            {
                throw new GdbStubException(_endpoint, command, $"the stub answered '{Printable(reply)}' instead of target description data; it may not support qXfer:features:read.");
            }

            text.Write(reply.AsSpan(1));
            if (reply[0] == (byte)'l' || reply.Length == 1)
            {
                return Encoding.UTF8.GetString(text.WrittenSpan);
            }
        }
    }

    /// <summary>Reads all general, segment, control and FPU/SSE registers of the selected vCPU (<c>g</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The register file.</returns>
    /// <exception cref="GdbStubException">The stub answered with an error or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task<GdbRegisterFile> ReadRegistersAsync(CancellationToken cancellationToken = default)
    {
        var reply = await ExchangeAsync(s_readRegisters, 1, "g", expectsStop: false, cancellationToken);
        var raw = new byte[reply.Length / 2];
        if (reply.Length < 2 || !GdbHex.TryDecodeBytes(reply, raw, out _))
        {
            throw new GdbStubException(_endpoint, "g", $"the stub answered '{Printable(reply)}' instead of register data.");
        }

        return new GdbRegisterFile(raw, _layout);
    }

    /// <summary>Reads one register (<c>p</c>) of the selected vCPU.</summary>
    /// <param name="number">The gdb register number (<see cref="GdbX86Registers"/>); at most 8 bytes wide.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The value, zero-extended.</returns>
    /// <exception cref="GdbStubException">The stub answered with an error or nothing, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task<ulong> ReadRegisterAsync(int number, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        var command = ArrayPool<byte>.Shared.Rent(32);
        byte[] reply;
        try
        {
            command[0] = (byte)'p';
            var n = 1 + GdbHex.WriteNumber((ulong)number, command.AsSpan(1));
            reply = await ExchangeAsync(command, n, "p", expectsStop: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(command);
        }

        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        if (reply.Length < 2 || reply.Length > 16 || !GdbHex.TryDecodeBytes(reply, bytes, out _))
        {
            throw new GdbStubException(_endpoint, $"p{number:x}", $"the stub answered '{Printable(reply)}' (an empty answer means target.xml was not read or the register does not exist; wider registers need ReadRegistersAsync).");
        }

        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    /// <summary>Writes one register (<c>P</c>) of the selected vCPU, as many bytes as the target description gives it.</summary>
    /// <param name="number">The gdb register number (<see cref="GdbX86Registers"/>).</param>
    /// <param name="value">The value (truncated to the register's size).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub accepted the value.</returns>
    /// <exception cref="GdbStubException">The stub refused, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task WriteRegisterAsync(int number, ulong value, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(number);
        var size = number < _layout.Count ? Math.Min(_layout.Size(number), 8) : 8;
        var command = ArrayPool<byte>.Shared.Rent(64);
        byte[] reply;
        try
        {
            command[0] = (byte)'P';
            var n = 1 + GdbHex.WriteNumber((ulong)number, command.AsSpan(1));
            command[n++] = (byte)'=';
            n += GdbHex.WriteLittleEndian(value, size, command.AsSpan(n));
            reply = await ExchangeAsync(command, n, "P", expectsStop: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(command);
        }

        ThrowUnlessOk(reply, $"P{number:x}");
    }

    /// <summary>Writes all registers of the selected vCPU (<c>G</c>) from a register file (e.g. one read earlier and changed with <paramref name="raw"/>).</summary>
    /// <param name="raw">The registers in <c>g</c> packet layout (<see cref="GdbRegisterFile.Raw"/>).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub accepted the registers.</returns>
    /// <exception cref="GdbStubException">The stub refused, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task WriteRegistersAsync(ReadOnlyMemory<byte> raw, CancellationToken cancellationToken = default)
    {
        var command = ArrayPool<byte>.Shared.Rent(1 + (2 * raw.Length));
        byte[] reply;
        try
        {
            command[0] = (byte)'G';
            var n = 1 + GdbHex.WriteBytes(raw.Span, command.AsSpan(1));
            reply = await ExchangeAsync(command, n, "G", expectsStop: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(command);
        }

        ThrowUnlessOk(reply, "G");
    }

    /// <summary>Inserts a breakpoint (<c>Z0</c> or <c>Z1</c>, kind 1) at a guest-virtual address.</summary>
    /// <param name="address">The guest-virtual address of the instruction.</param>
    /// <param name="kind">Software or hardware.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub inserted it.</returns>
    /// <exception cref="GdbStubException">The stub refused (e.g. the address is not mapped), or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public Task InsertBreakpointAsync(ulong address, BreakpointKind kind = BreakpointKind.Software, CancellationToken cancellationToken = default) =>
        BreakpointAsync((byte)'Z', address, kind, cancellationToken);

    /// <summary>Removes a breakpoint (<c>z0</c> or <c>z1</c>).</summary>
    /// <param name="address">The address it was inserted at.</param>
    /// <param name="kind">Software or hardware, as inserted.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub removed it.</returns>
    /// <exception cref="GdbStubException">The stub refused, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public Task RemoveBreakpointAsync(ulong address, BreakpointKind kind = BreakpointKind.Software, CancellationToken cancellationToken = default) =>
        BreakpointAsync((byte)'z', address, kind, cancellationToken);

    /// <summary>
    /// Resumes all vCPUs (<c>vCont;c</c>, or <c>c</c> when the stub has no vCont) and returns once
    /// the stub acknowledged; the stop comes later through <see cref="WaitForStopAsync"/>. Stop
    /// replies not yet consumed are discarded: they describe a stop that is over.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the acknowledgement.</param>
    /// <returns>A task that completes when the stub acknowledged the packet.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is already running.</exception>
    public Task ContinueAsync(CancellationToken cancellationToken = default) =>
        _vCont ? ResumeAsync(s_continueAll, "vCont;c", cancellationToken) : ResumeAsync(s_continue, "c", cancellationToken);

    /// <summary>
    /// Executes one instruction on one vCPU while the others stay stopped (<c>vCont;s:thread</c>;
    /// <c>s</c> on the selected vCPU when the stub has no vCont) and returns once the stub
    /// acknowledged; the stop after the step comes through <see cref="WaitForStopAsync"/>.
    /// </summary>
    /// <param name="threadId">The thread to step (QEMU: vCPU index + 1), as in <see cref="StopReply.ThreadId"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the acknowledgement.</param>
    /// <returns>A task that completes when the stub acknowledged the packet.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is already running.</exception>
    public Task StepAsync(int threadId, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threadId);
        if (!_vCont)
        {
            return ResumeAsync(s_step, "s", cancellationToken);
        }

        var command = new byte[48];
        "vCont;s:"u8.CopyTo(command);
        var n = 8 + WriteThreadId(threadId, command.AsSpan(8));
        return ResumeAsync(command.AsMemory(0, n), "vCont;s", cancellationToken);
    }

    /// <summary>Waits for the next stop reply (breakpoint, interrupt, exit).</summary>
    /// <param name="cancellationToken">Cancels the wait (the target keeps running).</param>
    /// <returns>The stop.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    public async ValueTask<StopReply> WaitForStopAsync(CancellationToken cancellationToken = default)
    {
        if (_stops.Reader.TryRead(out var stop))
        {
            return stop;
        }

        try
        {
            return await _stops.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw Failed("waiting for a stop reply");
        }
    }

    /// <summary>Stops a running target (the interrupt byte 0x03) and returns its stop reply.</summary>
    /// <param name="cancellationToken">Cancels the wait for the stop.</param>
    /// <returns>The stop (signal 2, SIGINT, naming the vCPU that was interrupted), or a stop that arrived just before.</returns>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is stopped and no stop reply is pending.</exception>
    public async ValueTask<StopReply> InterruptAsync(CancellationToken cancellationToken = default)
    {
        if (_failure is { } failure)
        {
            throw new GdbStubException(_endpoint, "interrupt", failure.Message, failure);
        }

        if (_stops.Reader.TryRead(out var pending))
        {
            return pending;
        }

        if (!_running)
        {
            throw new InvalidOperationException($"gdbstub {_endpoint}: the target is not running; nothing to interrupt.");
        }

        SendRaw([GdbFraming.Interrupt], "interrupt");
        return await WaitForStopAsync(cancellationToken);
    }

    /// <summary>
    /// Sends the interrupt byte without waiting: the stop reply arrives through
    /// <see cref="WaitForStopAsync"/>, where another thread may already be waiting for it. Does nothing
    /// when the target is not running.
    /// </summary>
    /// <exception cref="GdbStubException">The connection was lost.</exception>
    public void RequestInterrupt()
    {
        if (_failure is { } failure)
        {
            throw new GdbStubException(_endpoint, "interrupt", failure.Message, failure);
        }

        if (_running)
        {
            SendRaw([GdbFraming.Interrupt], "interrupt");
        }
    }

    /// <summary>Selects the vCPU that register and memory commands address (<c>Hg</c>).</summary>
    /// <param name="threadId">The thread id (QEMU: vCPU index + 1), as in <see cref="StopReply.ThreadId"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub switched.</returns>
    /// <exception cref="GdbStubException">The stub has no such thread, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task SelectThreadAsync(int threadId, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threadId);
        var command = ArrayPool<byte>.Shared.Rent(48);
        byte[] reply;
        try
        {
            command[0] = (byte)'H';
            command[1] = (byte)'g';
            var n = 2 + WriteThreadId(threadId, command.AsSpan(2));
            reply = await ExchangeAsync(command, n, "Hg", expectsStop: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(command);
        }

        ThrowUnlessOk(reply, $"Hg{threadId:x}");
    }

    /// <summary>Lists the stub's threads (<c>qfThreadInfo</c> / <c>qsThreadInfo</c>): one per vCPU under QEMU.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The thread ids (vCPU index + 1 under QEMU), in the stub's order.</returns>
    /// <exception cref="GdbStubException">The stub answered something else, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task<IReadOnlyList<int>> ListThreadsAsync(CancellationToken cancellationToken = default)
    {
        var threads = new List<int>();
        var command = "qfThreadInfo";
        for (var i = 0; i < 10_000; i++)
        {
            var reply = await SendCommandAsync(command, cancellationToken);
            if (reply.Length > 0 && reply[0] == 'l')
            {
                return threads;
            }

            if (reply.Length == 0 || reply[0] != 'm')
            {
                throw new GdbStubException(_endpoint, command, $"the stub answered '{reply}' instead of a thread list.");
            }

            foreach (var id in reply[1..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!StopReply.TryParseThreadId(Encoding.Latin1.GetBytes(id), out var tid))
                {
                    throw new GdbStubException(_endpoint, command, $"'{id}' is not a thread id.");
                }

                threads.Add(tid);
            }

            command = "qsThreadInfo";
        }

        throw new GdbStubException(_endpoint, command, "the thread list did not end.");
    }

    /// <summary>Reads guest-virtual memory through the stub (<c>m</c>). Slow (a round trip per KiB): for diagnostics only.</summary>
    /// <param name="address">The guest-virtual address.</param>
    /// <param name="length">The number of bytes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="GdbStubException">The memory is not mapped (the stub answered an error), or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task<byte[]> ReadMemoryAsync(ulong address, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var result = new byte[length];
        var done = 0;
        var command = new byte[48];
        while (done < length)
        {
            var chunk = Math.Min(MaxMemoryChunk, length - done);
            command[0] = (byte)'m';
            var n = 1 + GdbHex.WriteNumber(address + (ulong)done, command.AsSpan(1));
            command[n++] = (byte)',';
            n += GdbHex.WriteNumber((ulong)chunk, command.AsSpan(n));
            var reply = await ExchangeAsync(command, n, "m", expectsStop: false, cancellationToken);
            if (reply.Length == 0 || reply.Length > 2 * chunk || !GdbHex.TryDecodeBytes(reply, result.AsSpan(done), out _))
            {
                throw new GdbStubException(_endpoint, $"m{address + (ulong)done:x},{chunk:x}", $"the stub answered '{Printable(reply)}': the address is probably not mapped in the current address space.");
            }

            done += reply.Length / 2;
        }

        return result;
    }

    /// <summary>Detaches (<c>D</c>): QEMU removes all breakpoints and resumes the guest.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the stub acknowledged.</returns>
    /// <exception cref="GdbStubException">The stub refused, or the connection was lost.</exception>
    /// <exception cref="InvalidOperationException">The target is running.</exception>
    public async Task DetachAsync(CancellationToken cancellationToken = default)
    {
        // With multiprocess QEMU answers a bare D with E22: it wants the process id.
        var command = _multiprocess ? s_detachProcess : s_detach;
        var reply = await ExchangeAsync(command, command.Length, "D", expectsStop: false, cancellationToken);
        ThrowUnlessOk(reply, "D");
    }

    /// <summary>Closes the connection (without detaching: QEMU keeps the guest in its current state and drops breakpoints).</summary>
    /// <returns>A task that completes when the reader loop ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Fail(new GdbStubException($"gdbstub {_endpoint}: the client was disposed."));
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        await _readLoop;
    }

    private static async Task<GdbRemoteClient> InitializeAsync(GdbRemoteClient client, TimeSpan timeout, CancellationToken cancellationToken)
    {
        client._readLoop = Task.Run(client.ReadLoopAsync, CancellationToken.None);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await client.QuerySupportedAsync(deadline.Token);
            if (string.Equals(await client.SendCommandAsync("QStartNoAckMode", deadline.Token), "OK", StringComparison.Ordinal))
            {
                client._acks = false;
            }

            client._vCont = (await client.SendCommandAsync("vCont?", deadline.Token)).Split(';').Contains("c", StringComparer.Ordinal);
            if (client.Features.TryGetValue("qXfer:features:read", out var xfer) && string.Equals(xfer, "+", StringComparison.Ordinal))
            {
                // QEMU answers p/P only after the client read target.xml.
                client.TargetXml = await client.ReadTargetXmlAsync("target.xml", deadline.Token);
                var documents = new List<string> { client.TargetXml };
                foreach (var include in GdbRegisterLayout.Includes(client.TargetXml))
                {
                    documents.Add(await client.ReadTargetXmlAsync(include, deadline.Token));
                }

                var layout = GdbRegisterLayout.FromFeatures(documents);
                if (layout.Count > 0)
                {
                    client._layout = layout;
                }
            }

            return client;
        }
        catch (Exception ex)
        {
            await client.DisposeAsync();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new GdbStubException($"gdbstub {client._endpoint}: no answer while negotiating within {timeout.TotalSeconds:0.#} s; is another debugger connected?", ex);
            }

            throw;
        }
    }

    private static async Task<Socket> ConnectWithRetryAsync(Func<Socket> create, EndPoint address, string endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var socket = create();
            try
            {
                await socket.ConnectAsync(address, cancellationToken);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                if (DateTime.UtcNow >= deadline)
                {
                    throw new GdbStubException($"Could not connect to the gdbstub {endpoint} within {timeout.TotalSeconds:0.#} s: {ex.Message}. Is QEMU running with -gdb?", ex);
                }
            }

            // Connecting is a one-off; a short back-off while QEMU creates its socket is fine.
            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task BreakpointAsync(byte verb, ulong address, BreakpointKind kind, CancellationToken cancellationToken)
    {
        var command = ArrayPool<byte>.Shared.Rent(48);
        byte[] reply;
        try
        {
            command[0] = verb;
            command[1] = kind == BreakpointKind.Hardware ? (byte)'1' : (byte)'0';
            command[2] = (byte)',';
            var n = 3 + GdbHex.WriteNumber(address, command.AsSpan(3));
            command[n++] = (byte)',';
            command[n++] = (byte)'1';
            reply = await ExchangeAsync(command, n, verb == (byte)'Z' ? "Z" : "z", expectsStop: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(command);
        }

        ThrowUnlessOk(reply, $"{(char)verb}{(int)kind},{address:x},1");
    }

    private async Task ResumeAsync(ReadOnlyMemory<byte> packet, string command, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ThrowIfUnusable(command);
            while (_stops.Reader.TryRead(out _))
            {
            }

            TaskCompletionSource? ack = null;
            if (_acks)
            {
                ack = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_stateLock)
                {
                    _pendingAck = ack;
                    _pendingCommand = command;
                }
            }

            _running = true;
            SendPacket(packet.Span, command);
            if (ack is not null)
            {
                await ack.Task.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private GdbStubException Failed(string what) =>
        new(_endpoint, what, _failure?.Message ?? "the connection is closed.", _failure);

    private void ThrowUnlessOk(byte[] reply, string command)
    {
        if (!reply.AsSpan().SequenceEqual("OK"u8))
        {
            ThrowRefused(reply, command);
        }
    }

    [DoesNotReturn]
    private void ThrowRefused(byte[] reply, string command) =>
        throw new GdbStubException(_endpoint, command, reply.Length == 0
            ? "the stub does not support this command (empty answer)."
            : $"the stub answered '{Printable(reply)}'.");

    private int WriteThreadId(int threadId, Span<byte> destination)
    {
        var n = 0;
        if (_multiprocess)
        {
            destination[n++] = (byte)'p';
            destination[n++] = (byte)'1';
            destination[n++] = (byte)'.';
        }

        return n + GdbHex.WriteNumber((ulong)threadId, destination[n..]);
    }

    private static string Printable(byte[] reply) =>
        reply.Length > 80 ? Encoding.Latin1.GetString(reply, 0, 80) + "…" : Encoding.Latin1.GetString(reply);
}
