using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Text;
using System.Text.Json;

namespace Nitro.Kvm.Qemu;

/// <summary>An asynchronous QMP event (e.g. <c>STOP</c>, <c>RESUME</c>, <c>SHUTDOWN</c>).</summary>
/// <param name="Name">The event name.</param>
/// <param name="Data">The event's data object, or an undefined element.</param>
/// <param name="Timestamp">QEMU's timestamp of the event.</param>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp);

/// <summary>
/// A client of the QEMU Machine Protocol over a unix socket: capability negotiation, commands
/// with JSON arguments and results, and QMP events as an observable. Thread-safe; commands may be
/// issued concurrently and are matched to answers by id.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private const int MaxLineLength = 16 << 20;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Subject<QmpEvent> _events = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<JsonElement> _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _readLoop;
    private long _nextId;
    private Exception? _failure;

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = PipeReader.Create(_stream);
    }

    /// <summary>Gets QMP events as they arrive; completes when the connection closes.</summary>
    public IObservable<QmpEvent> Events => _events.AsObservable();

    /// <summary>Gets the QEMU version reported in the greeting, e.g. <c>7.2.22</c>.</summary>
    public string? QemuVersion { get; private set; }

    /// <summary>Connects to a QMP unix socket and negotiates capabilities.</summary>
    /// <param name="socketPath">The path given to <c>-qmp unix:PATH,server=on,wait=off</c>.</param>
    /// <param name="timeout">How long to keep trying to connect (QEMU may still be starting).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The connected client.</returns>
    /// <exception cref="QemuException">The socket did not accept a connection in time, or the greeting was not QMP.</exception>
    public static async Task<QmpClient> ConnectAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var socket = await UnixSockets.ConnectWithRetryAsync(socketPath, timeout, "QMP", cancellationToken);
        var client = new QmpClient(socket);
        client._readLoop = Task.Run(client.ReadLoopAsync, CancellationToken.None);
        try
        {
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            var greeting = await client._greeting.Task.WaitAsync(timeoutSource.Token);
            if (greeting.TryGetProperty("QMP", out var qmp) && qmp.TryGetProperty("version", out var version) &&
                version.TryGetProperty("qemu", out var q))
            {
                client.QemuVersion = $"{q.GetProperty("major").GetInt32()}.{q.GetProperty("minor").GetInt32()}.{q.GetProperty("micro").GetInt32()}";
            }

            await client.ExecuteAsync("qmp_capabilities", null, cancellationToken);
            return client;
        }
        catch (Exception ex)
        {
            await client.DisposeAsync();
            throw ex as QemuException ?? new QemuException($"No QMP greeting on {socketPath} within {timeout.TotalSeconds:0.#} s.", ex);
        }
    }

    /// <summary>Executes a QMP command.</summary>
    /// <param name="command">The command name (<c>stop</c>, <c>cont</c>, <c>query-status</c> …).</param>
    /// <param name="arguments">The arguments object (serialized with System.Text.Json), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer.</param>
    /// <returns>The <c>return</c> value of the answer.</returns>
    /// <exception cref="QemuException">QEMU answered with an error, or the connection was lost.</exception>
    public async Task<JsonElement> ExecuteAsync(string command, object? arguments = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ThrowIfFailed();
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        var request = new Dictionary<string, object?>(StringComparer.Ordinal) { ["execute"] = command, ["id"] = id };
        if (arguments is not null)
        {
            request["arguments"] = arguments;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(request, QmpJson.Options);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
            await _stream.WriteAsync("\n"u8.ToArray(), cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _pending.TryRemove(id, out _);
            throw new QemuException($"QMP connection lost while sending '{command}'.", ex);
        }
        finally
        {
            _writeGate.Release();
        }

        using var registration = cancellationToken.Register(() => answer.TrySetCanceled(cancellationToken));
        var result = await answer.Task;
        if (result.ValueKind == JsonValueKind.Object && result.TryGetProperty("error", out var error))
        {
            throw new QemuException(
                command,
                error.TryGetProperty("class", out var cls) ? cls.GetString() ?? "?" : "?",
                error.TryGetProperty("desc", out var desc) ? desc.GetString() ?? "" : "");
        }

        return result.TryGetProperty("return", out var ret) ? ret.Clone() : default;
    }

    /// <summary>Pauses all vCPUs (<c>stop</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default) => ExecuteAsync("stop", null, cancellationToken);

    /// <summary>Resumes all vCPUs (<c>cont</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when QEMU acknowledged.</returns>
    public Task ContinueAsync(CancellationToken cancellationToken = default) => ExecuteAsync("cont", null, cancellationToken);

    /// <summary>Asks QEMU to exit (<c>quit</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when QEMU acknowledged or closed the socket.</returns>
    public async Task QuitAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await ExecuteAsync("quit", null, cancellationToken);
        }
        catch (QemuException ex) when (ex.ErrorClass is null)
        {
            // QEMU may close the socket before its answer arrives: that is the expected outcome.
        }
    }

    /// <summary>Reads the run state (<c>query-status</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The status, e.g. <c>running</c>, <c>paused</c>, <c>prelaunch</c>, <c>debug</c>.</returns>
    public async Task<string> QueryStatusAsync(CancellationToken cancellationToken = default)
    {
        var result = await ExecuteAsync("query-status", null, cancellationToken);
        return result.GetProperty("status").GetString() ?? "unknown";
    }

    /// <summary>Lists the vCPUs (<c>query-cpus-fast</c>).</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The vCPU index and host thread id of each vCPU.</returns>
    public async Task<IReadOnlyList<QemuCpu>> QueryCpusAsync(CancellationToken cancellationToken = default)
    {
        var result = await ExecuteAsync("query-cpus-fast", null, cancellationToken);
        var cpus = new List<QemuCpu>();
        foreach (var cpu in result.EnumerateArray())
        {
            cpus.Add(new QemuCpu(cpu.GetProperty("cpu-index").GetInt32(), cpu.TryGetProperty("thread-id", out var t) ? t.GetInt32() : 0));
        }

        return cpus;
    }

    /// <summary>Runs a human monitor command (<c>human-monitor-command</c>), e.g. <c>info jit</c>.</summary>
    /// <param name="commandLine">The HMP command line.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The monitor's text output.</returns>
    public async Task<string> HumanMonitorCommandAsync(string commandLine, CancellationToken cancellationToken = default)
    {
        var result = await ExecuteAsync("human-monitor-command", new Dictionary<string, object?>(StringComparer.Ordinal) { ["command-line"] = commandLine }, cancellationToken);
        return result.GetString() ?? string.Empty;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        _socket.Dispose();
        if (_readLoop is not null)
        {
            try
            {
                await _readLoop.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
            }
        }

        _stream.Dispose();
        _writeGate.Dispose();
        _stop.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var read = await _reader.ReadAsync(_stop.Token);
                var buffer = read.Buffer;
                try
                {
                    while (TryReadLine(ref buffer, out var line))
                    {
                        Dispatch(line);
                    }

                    if (buffer.Length > MaxLineLength)
                    {
                        throw new QemuException($"QMP sent a line longer than {MaxLineLength} bytes; closing the connection.");
                    }

                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        Fail(failure ?? new QemuException("The QMP connection was closed (QEMU exited?)."));
        await _reader.CompleteAsync();
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var position = buffer.PositionOf((byte)'\n');
        if (position is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, position.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
        return true;
    }

    private void Dispatch(ReadOnlySequence<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        if (!JsonDocument.TryParseValue(ref reader, out var document))
        {
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            if (root.TryGetProperty("QMP", out _))
            {
                _greeting.TrySetResult(root.Clone());
            }
            else if (root.TryGetProperty("event", out var name))
            {
                var timestamp = root.TryGetProperty("timestamp", out var ts)
                    ? DateTimeOffset.FromUnixTimeMilliseconds((ts.GetProperty("seconds").GetInt64() * 1000) + (ts.GetProperty("microseconds").GetInt64() / 1000))
                    : DateTimeOffset.UtcNow;
                _events.OnNext(new QmpEvent(name.GetString() ?? "?", root.TryGetProperty("data", out var data) ? data.Clone() : default, timestamp));
            }
            else if (root.TryGetProperty("id", out var id) && id.TryGetInt64(out var key) && _pending.TryRemove(key, out var answer))
            {
                answer.TrySetResult(root.Clone());
            }
        }
    }

    private void Fail(Exception failure)
    {
        _failure ??= failure;
        _greeting.TrySetException(failure);
        foreach (var pending in _pending)
        {
            if (_pending.TryRemove(pending.Key, out var answer))
            {
                answer.TrySetException(new QemuException("The QMP connection was lost before QEMU answered.", failure));
            }
        }

        _events.OnCompleted();
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw new QemuException("The QMP connection is closed.", _failure);
        }
    }

    private static class QmpJson
    {
        public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    }
}

/// <summary>One vCPU as QMP's <c>query-cpus-fast</c> lists it.</summary>
/// <param name="Index">The vCPU index.</param>
/// <param name="ThreadId">The host thread that runs it.</param>
public readonly record struct QemuCpu(int Index, int ThreadId);
