namespace Nitro.Kvm.GdbStub;

/// <summary>Why the target stopped, as the stub reported it.</summary>
public enum StopKind
{
    /// <summary>A <c>T</c> or <c>S</c> reply: the target stopped with a signal and can be resumed.</summary>
    Signal,

    /// <summary>A <c>W</c> reply: the process exited; <see cref="StopReply.Signal"/> holds the exit status.</summary>
    Exited,

    /// <summary>An <c>X</c> reply: the process was terminated by <see cref="StopReply.Signal"/>.</summary>
    Terminated,
}

/// <summary>The stop reason given in a <c>T</c> reply.</summary>
public enum StopReason
{
    /// <summary>None given (QEMU 7.2 reports breakpoints as plain <c>T05</c>).</summary>
    None,

    /// <summary><c>swbreak</c>: a software breakpoint (<c>Z0</c>).</summary>
    SoftwareBreakpoint,

    /// <summary><c>hwbreak</c>: a hardware breakpoint (<c>Z1</c>).</summary>
    HardwareBreakpoint,

    /// <summary><c>watch</c>, <c>rwatch</c> or <c>awatch</c>: a watchpoint; see <see cref="StopReply.WatchAddress"/>.</summary>
    Watchpoint,
}

/// <summary>A parsed stop reply (<c>T</c>, <c>S</c>, <c>W</c> or <c>X</c> packet).</summary>
/// <param name="Kind">Stopped, exited or terminated.</param>
/// <param name="Signal">The signal number (5 = SIGTRAP for breakpoints, 2 = SIGINT for an interrupt), or the exit status.</param>
/// <param name="ThreadId">The <c>thread:</c> id (QEMU: vCPU index + 1), or 0 when the reply names none.</param>
/// <param name="Reason">The reason given, if any.</param>
/// <param name="WatchAddress">The data address of a watchpoint stop, else 0.</param>
public readonly record struct StopReply(StopKind Kind, int Signal, int ThreadId, StopReason Reason, ulong WatchAddress)
{
    /// <summary>Gets the index of the vCPU that stopped (QEMU numbers threads from 1), or −1 when no thread was named.</summary>
    public int VcpuIndex => ThreadId > 0 ? ThreadId - 1 : -1;

    /// <summary>Gets a value indicating whether the target is gone (<see cref="StopKind.Exited"/> or <see cref="StopKind.Terminated"/>).</summary>
    public bool IsExit => Kind != StopKind.Signal;

    /// <summary>Whether a payload is a stop reply at all (its first byte is T, S, W or X).</summary>
    internal static bool IsStopPacket(ReadOnlySpan<byte> payload) =>
        payload.Length >= 3 && payload[0] is (byte)'T' or (byte)'S' or (byte)'W' or (byte)'X' && GdbHex.Value(payload[1]) >= 0 && GdbHex.Value(payload[2]) >= 0;

    /// <summary>Parses <c>TAAn:r;…</c>, <c>SAA</c>, <c>WAA[;process:pid]</c> or <c>XAA[;process:pid]</c>.</summary>
    internal static bool TryParse(ReadOnlySpan<byte> payload, out StopReply reply)
    {
        reply = default;
        if (!IsStopPacket(payload))
        {
            return false;
        }

        var kind = payload[0] switch
        {
            (byte)'W' => StopKind.Exited,
            (byte)'X' => StopKind.Terminated,
            _ => StopKind.Signal,
        };
        var signal = (GdbHex.Value(payload[1]) << 4) | GdbHex.Value(payload[2]);
        var threadId = 0;
        var reason = StopReason.None;
        ulong watch = 0;
        if (payload[0] is (byte)'T' && !TryParsePairs(payload[3..], ref threadId, ref reason, ref watch))
        {
            return false;
        }

        reply = new StopReply(kind, signal, threadId, reason, watch);
        return true;
    }

    private static bool TryParsePairs(ReadOnlySpan<byte> rest, ref int threadId, ref StopReason reason, ref ulong watch)
    {
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)';');
            var pair = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 1)..];
            var colon = pair.IndexOf((byte)':');
            if (colon < 0)
            {
                continue;
            }

            var key = pair[..colon];
            var value = pair[(colon + 1)..];
            if (key.SequenceEqual("thread"u8))
            {
                if (!TryParseThreadId(value, out threadId))
                {
                    return false;
                }
            }
            else if (key.SequenceEqual("swbreak"u8))
            {
                reason = StopReason.SoftwareBreakpoint;
            }
            else if (key.SequenceEqual("hwbreak"u8))
            {
                reason = StopReason.HardwareBreakpoint;
            }
            else if (key.SequenceEqual("watch"u8) || key.SequenceEqual("rwatch"u8) || key.SequenceEqual("awatch"u8))
            {
                reason = StopReason.Watchpoint;
                if (!GdbHex.TryParseNumber(value, out watch))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Parses <c>p&lt;pid&gt;.&lt;tid&gt;</c> or a bare <c>&lt;tid&gt;</c> (hex); returns the tid.</summary>
    internal static bool TryParseThreadId(ReadOnlySpan<byte> text, out int threadId)
    {
        threadId = 0;
        if (!text.IsEmpty && text[0] == (byte)'p')
        {
            var dot = text.IndexOf((byte)'.');
            if (dot < 0)
            {
                return false;
            }

            text = text[(dot + 1)..];
        }

        if (!GdbHex.TryParseNumber(text, out var value) || value > int.MaxValue)
        {
            return false;
        }

        threadId = (int)value;
        return true;
    }
}
