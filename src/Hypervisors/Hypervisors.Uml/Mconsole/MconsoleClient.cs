using System.Globalization;
using System.Net.Sockets;

namespace Hypervisors.Uml.Mconsole;

/// <summary>
/// A client for one UML kernel's management console: a Unix datagram socket (<c>{uml_dir}/{umid}/mconsole</c>).
/// Each request uses its own socket bound to a fresh abstract address (the kernel answers to the sender's address),
/// so concurrent requests never read each other's replies and nothing is left on disk.
/// </summary>
internal sealed class MconsoleClient
{
    private readonly UnixDomainSocketEndPoint _server;

    /// <summary>Creates a client for the kernel serving <paramref name="socketPath"/>.</summary>
    public MconsoleClient(string socketPath, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        SocketPath = socketPath;
        Timeout = timeout;
        _server = new UnixDomainSocketEndPoint(socketPath);
    }

    /// <summary>The kernel's mconsole socket.</summary>
    public string SocketPath { get; }

    /// <summary>How long a request waits for its complete answer.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// Sends <paramref name="command"/> and returns the kernel's answer (an error answer is returned, not thrown).
    /// Throws <see cref="MconsoleException"/> when nothing serves the socket or the answer does not come in
    /// <see cref="Timeout"/>.
    /// </summary>
    public async Task<MconsoleReply> SendAsync(string command, CancellationToken cancellationToken = default)
    {
        var request = MconsoleProtocol.EncodeRequest(command);
        Hypervisors.Counting.FlowCallCounter.Record("mconsole " + FirstWord(command));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint("\0hypervisors-uml-mconsole-" + Guid.NewGuid().ToString("N")));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await socket.SendToAsync(request, SocketFlags.None, _server, timeout.Token).ConfigureAwait(false);
            var buffer = new byte[MconsoleProtocol.HeaderSize + MconsoleProtocol.MaxData];
            var text = new System.Text.StringBuilder();
            var isError = false;
            var first = true;
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var (error, more, part) = MconsoleProtocol.DecodeReply(buffer.AsSpan(0, received));

                // The kernel sets err on the first packet of an answer only.
                isError |= first && error;
                first = false;
                text.Append(part);
                if (!more)
                {
                    return new MconsoleReply(isError, text.ToString());
                }
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.NotConnected
                                             || ex.ErrorCode == 2 /* ENOENT */)
        {
            throw new MconsoleException(MconsoleFailure.NoKernel, $"No UML kernel serves the mconsole socket {SocketPath}: {ex.Message}", ex);
        }
        catch (SocketException ex)
        {
            throw new MconsoleException(MconsoleFailure.NoKernel, $"The mconsole request '{FirstWord(command)}' to {SocketPath} failed: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MconsoleException(MconsoleFailure.Timeout,
                $"The UML kernel at {SocketPath} did not answer '{FirstWord(command)}' within {Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.", ex);
        }
    }

    private static string FirstWord(string command)
    {
        var space = command.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? command : command[..space];
    }
}
