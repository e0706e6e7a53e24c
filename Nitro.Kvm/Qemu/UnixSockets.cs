using System.Net.Sockets;

namespace Nitro.Kvm.Qemu;

/// <summary>Connecting to the unix sockets QEMU creates, which appear some time after it starts.</summary>
internal static class UnixSockets
{
    public static async Task<Socket> ConnectWithRetryAsync(string path, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new QemuException($"Could not connect to the {what} socket {path} within {timeout.TotalSeconds:0.#} s: {last?.Message}", last!);
            }

            await Task.Delay(20, cancellationToken);
        }
    }
}
