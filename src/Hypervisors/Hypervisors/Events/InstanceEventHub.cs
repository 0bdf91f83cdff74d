using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Hypervisors;

/// <summary>
/// Fans lifecycle events out to every current subscriber, in publish order. Drivers publish from their
/// hypervisor's event source and return <see cref="SubscribeAsync"/> from <c>WatchEventsCoreAsync</c>.
/// Each subscriber has its own unbounded queue, so a slow reader delays only itself and loses nothing.
/// </summary>
public sealed class InstanceEventHub : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<Channel<InstanceEvent>> _subscribers = [];
    private bool _completed;

    /// <summary>The number of current subscribers.</summary>
    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Delivers <paramref name="instanceEvent"/> to every current subscriber.</summary>
    public void Publish(InstanceEvent instanceEvent)
    {
        ArgumentNullException.ThrowIfNull(instanceEvent);
        lock (_gate)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(instanceEvent);
            }
        }
    }

    /// <summary>
    /// Subscribes now (before the first <c>MoveNextAsync</c>, so nothing published after this call is missed)
    /// and yields events until cancelled or until the hub is disposed.
    /// </summary>
    public IAsyncEnumerable<InstanceEvent> SubscribeAsync(CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<InstanceEvent>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            if (_completed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers.Add(channel);
            }
        }

        // Cancelling the token unsubscribes even when the stream is never enumerated.
        var registration = cancellationToken.Register(() => Unsubscribe(channel));
        return ReadAsync(channel, registration, cancellationToken);
    }

    /// <summary>Ends every subscription.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }

            _subscribers.Clear();
        }
    }

    private void Unsubscribe(Channel<InstanceEvent> channel)
    {
        lock (_gate)
        {
            _subscribers.Remove(channel);
        }

        channel.Writer.TryComplete();
    }

    private async IAsyncEnumerable<InstanceEvent> ReadAsync(Channel<InstanceEvent> channel, CancellationTokenRegistration registration, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var item))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
            Unsubscribe(channel);
        }
    }
}
