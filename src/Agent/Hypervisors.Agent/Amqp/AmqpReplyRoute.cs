using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Hypervisors.Agent.Amqp;

/// <summary>
/// Where the agent publishes call replies: the reply channel of whichever session is live now, not the session that
/// took the command. A command's operation outlives the connection it came on (the self-probe recycles a deaf
/// connection, a broker restart breaks it); its caller's direct reply-to address stays valid while the caller's own
/// channel lives, so the reply waits for the next session (up to <see cref="Patience"/>) instead of being dropped.
/// </summary>
internal sealed class AmqpReplyRoute : IDisposable
{
    /// <summary>How long a reply waits for a live session before it is given up (the caller can still fetch it by message id).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _disposed = new();
    private TaskCompletionSource<IChannel> _current = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Replies go through <paramref name="channel"/> from now on.</summary>
    public void Attach(IChannel channel)
    {
        lock (_gate)
        {
            if (_current.Task.IsCompleted)
            {
                _current = new TaskCompletionSource<IChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _current.SetResult(channel);
        }
    }

    /// <summary>Stops using <paramref name="channel"/> (its session ended); replies wait for the next one.</summary>
    public void Detach(IChannel channel)
    {
        lock (_gate)
        {
            if (_current.Task.IsCompletedSuccessfully && ReferenceEquals(_current.Task.Result, channel))
            {
                _current = new TaskCompletionSource<IChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>
    /// Publishes a reply to <paramref name="replyTo"/> on the default exchange through the live session, waiting for
    /// one when there is none. Throws <see cref="TimeoutException"/> when no session came within <see cref="Patience"/>.
    /// </summary>
    public async Task PublishAsync(string replyTo, BasicProperties properties, ReadOnlyMemory<byte> body)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Task<IChannel> current;
            lock (_gate)
            {
                current = _current.Task;
            }

            var remaining = Patience - waited.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"No live broker session within {Patience} to send the reply on.");
            }

            var channel = await current.WaitAsync(remaining, _disposed.Token).ConfigureAwait(false);
            try
            {
                await channel.BasicPublishAsync(string.Empty, replyTo, false, properties, body, _disposed.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception exception) when (exception is AlreadyClosedException or IOException or OperationInterruptedException)
            {
                // That session is going away; wait for its successor.
                Detach(channel);
            }
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}
