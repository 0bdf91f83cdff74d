using System.Net.Sockets;
using System.Threading.Channels;

namespace Hypervisors.Uml.Mconsole;

/// <summary>
/// Receives what a UML kernel started with <c>mconsole=notify:{path}</c> sends: its mconsole socket at every boot
/// (also after a reboot, which re-executes the same process), panics, hangs and user notifications from the guest's
/// <c>/proc/mconsole</c>. Binds the socket path given to the constructor (replacing a stale socket file) until disposed.
/// </summary>
internal sealed class MconsoleNotificationListener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<MconsoleNotification> _notifications = Channel.CreateUnbounded<MconsoleNotification>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly Task _receiveLoop;

    /// <summary>Binds <paramref name="path"/> and starts receiving.</summary>
    public MconsoleNotificationListener(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        File.Delete(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            _socket.Bind(new UnixDomainSocketEndPoint(path));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>The socket's path, as given to the kernel.</summary>
    public string Path { get; }

    /// <summary>Notifications in arrival order; completes when the listener is disposed.</summary>
    public ChannelReader<MconsoleNotification> Notifications => _notifications.Reader;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped on purpose.
        }

        _stop.Dispose();
        File.Delete(Path);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[MconsoleProtocol.NotificationHeaderSize + MconsoleProtocol.MaxData];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int received;
                try
                {
                    received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                {
                    return;
                }

                // Anything without the magic is not from a UML kernel; ignore it.
                if (MconsoleProtocol.DecodeNotification(buffer.AsSpan(0, received)) is { } notification)
                {
                    _notifications.Writer.TryWrite(notification);
                }
            }
        }
        finally
        {
            _notifications.Writer.TryComplete();
        }
    }
}
