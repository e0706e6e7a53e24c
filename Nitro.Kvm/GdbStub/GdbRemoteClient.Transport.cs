using System.Buffers;
using System.Net.Sockets;

namespace Nitro.Kvm.GdbStub;

/// <summary>The transport half: sending with acks and retransmits, the reader loop, and routing replies and stops.</summary>
public sealed partial class GdbRemoteClient
{
    private async Task<byte[]> ExchangeAsync(byte[] data, int length, string what, bool expectsStop, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ThrowIfUnusable(what);
            var reply = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_stateLock)
            {
                _pendingReply = reply;
                _pendingCommand = what;
                _pendingExpectsStop = expectsStop;
            }

            SendPacket(data.AsSpan(0, length), what);
            try
            {
                return await reply.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                lock (_stateLock)
                {
                    if (_pendingReply == reply)
                    {
                        // The stub answers in order: drop the reply this command will still get.
                        _pendingReply = null;
                        _orphans++;
                    }
                }

                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void ThrowIfUnusable(string what)
    {
        if (_failure is { } failure)
        {
            throw new GdbStubException(_endpoint, what, failure.Message, failure);
        }

        if (_running)
        {
            throw new InvalidOperationException($"gdbstub {_endpoint}: cannot send '{what}' while the target runs; wait for a stop or interrupt it first.");
        }
    }

    private void SendPacket(ReadOnlySpan<byte> data, string what)
    {
        var max = GdbFraming.GetMaxFrameLength(data.Length);
        lock (_writeLock)
        {
            if (_lastPacket.Length < max)
            {
                _lastPacket = new byte[Math.Max(max, 2 * _lastPacket.Length)];
            }

            _lastPacketLength = GdbFraming.Encode(data, _lastPacket);
            _retransmits = 0;
            SendLocked(_lastPacket.AsSpan(0, _lastPacketLength), what);
        }
    }

    private void SendRaw(ReadOnlySpan<byte> bytes, string what)
    {
        lock (_writeLock)
        {
            SendLocked(bytes, what);
        }
    }

    private void SendLocked(ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            while (!bytes.IsEmpty)
            {
                bytes = bytes[_socket.Send(bytes, SocketFlags.None)..];
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            var failure = new GdbStubException(_endpoint, what, "the connection was lost while sending; the QEMU process probably exited.", ex);
            Fail(failure);
            throw failure;
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception? cause = null;
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync();
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                try
                {
                    var sequence = new SequenceReader<byte>(buffer);
                    while (true)
                    {
                        _payload.Clear();
                        if (!GdbFraming.TryReadFrame(ref sequence, _payload, _maxPacketSize, out var kind))
                        {
                            break;
                        }

                        consumed = sequence.Position;
                        OnFrame(kind, _payload.WrittenSpan);
                    }

                    if (result.IsCompleted)
                    {
                        break;
                    }
                }
                finally
                {
                    _reader.AdvanceTo(consumed, buffer.End);
                }
            }
        }
        catch (Exception ex)
        {
            // Whatever ends the loop must fail the pending calls rather than leave them waiting.
            cause = ex;
        }
        finally
        {
            await _reader.CompleteAsync();
        }

        var message = cause is GdbFramingException
            ? $"the stub sent something that is not GDB remote protocol: {cause.Message}"
            : "the connection was closed; the QEMU process probably exited.";
        Fail(new GdbStubException($"gdbstub {_endpoint}: {message}", cause ?? new EndOfStreamException()));
    }

    private void OnFrame(GdbFrameKind kind, ReadOnlySpan<byte> payload)
    {
        switch (kind)
        {
            case GdbFrameKind.Ack:
                TaskCompletionSource? ack;
                lock (_stateLock)
                {
                    ack = _pendingAck;
                    _pendingAck = null;
                }

                ack?.TrySetResult();
                break;
            case GdbFrameKind.Nack:
                lock (_writeLock)
                {
                    if (_lastPacketLength == 0)
                    {
                        break;
                    }

                    if (++_retransmits > MaxRetransmits)
                    {
                        throw new GdbStubException($"gdbstub {_endpoint}: the stub rejected '{_pendingCommand}' {MaxRetransmits + 1} times; the line is corrupt.");
                    }

                    SendLocked(_lastPacket.AsSpan(0, _lastPacketLength), "retransmit");
                }

                break;
            case GdbFrameKind.BadChecksum:
                if (++_badChecksums > MaxBadChecksums)
                {
                    throw new GdbStubException($"gdbstub {_endpoint}: {MaxBadChecksums} packets in a row had a wrong checksum.");
                }

                if (_acks)
                {
                    SendRaw("-"u8, "nack");
                }

                break;
            case GdbFrameKind.Notification:
                // Non-stop notifications (%Stop) are not used with QEMU in all-stop mode.
                break;
            case GdbFrameKind.Packet:
                _badChecksums = 0;
                OnPacket(payload);
                break;
        }
    }

    private void OnPacket(ReadOnlySpan<byte> payload)
    {
        TaskCompletionSource<byte[]>? reply = null;
        var drop = false;
        var isStop = StopReply.IsStopPacket(payload);
        lock (_stateLock)
        {
            if (isStop && !(_pendingReply is not null && _pendingExpectsStop && _orphans == 0))
            {
                // Routed below, outside the lock.
            }
            else if (_running && payload.Length > 0 && payload[0] == (byte)'O' && !payload.SequenceEqual("OK"u8))
            {
                drop = true;
            }
            else if (_orphans > 0)
            {
                _orphans--;
                drop = true;
            }
            else
            {
                reply = _pendingReply;
                _pendingReply = null;
                drop = reply is null;
            }
        }

        if (drop)
        {
            Ack();
            return;
        }

        if (reply is not null)
        {
            Ack();
            reply.TrySetResult(payload.ToArray());
            return;
        }

        // A stop is queued before it is acked, so that whoever sees the ack also sees the stop.
        if (StopReply.TryParse(payload, out var stop))
        {
            _running = false;
            _stops.Writer.TryWrite(stop);
        }

        Ack();
    }

    private void Ack()
    {
        if (_acks)
        {
            SendRaw("+"u8, "ack");
        }
    }

    private void Fail(GdbStubException failure)
    {
        if (_failure is not null)
        {
            return;
        }

        _failure = failure;
        TaskCompletionSource<byte[]>? reply;
        TaskCompletionSource? ack;
        string? command;
        lock (_stateLock)
        {
            reply = _pendingReply;
            ack = _pendingAck;
            command = _pendingCommand;
            _pendingReply = null;
            _pendingAck = null;
        }

        if (reply is not null || ack is not null)
        {
            var error = new GdbStubException(_endpoint, command ?? "?", failure.Message, failure);
            reply?.TrySetException(error);
            ack?.TrySetException(error);
        }

        _stops.Writer.TryComplete(failure);
    }
}
