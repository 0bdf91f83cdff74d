using System.Threading.Channels;

namespace Hypervisors.Conformance;

/// <summary>
/// Watches a driver's events for one instance from the moment it is created and lets a test wait for the next
/// expected power state, tolerating repeats of the state already reached but not states out of order.
/// </summary>
public sealed class EventRecorder : IAsyncDisposable
{
    private readonly Channel<InstanceEvent> _events = Channel.CreateUnbounded<InstanceEvent>();
    private readonly CancellationTokenSource _stop;
    private readonly Task _pump;
    private readonly List<InstanceEvent> _seen = [];
    private readonly TimeSpan _stopTimeout;
    private Guid _instanceId;
    private PowerState? _reached;

    private EventRecorder(IAsyncEnumerable<InstanceEvent> source, CancellationTokenSource stop, TimeSpan stopTimeout)
    {
        _stop = stop;
        _stopTimeout = stopTimeout;
        _pump = PumpAsync(source, stop.Token);
    }

    /// <summary>
    /// Subscribes now; events are buffered until <see cref="ExpectAsync"/> reads them. Disposing stops the watch and
    /// waits up to <paramref name="stopTimeout"/> (10 s by default) for the stream to end.
    /// </summary>
    public static EventRecorder Start(IHypervisorDriver driver, CancellationToken cancellationToken, TimeSpan? stopTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(driver);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        return new EventRecorder(driver.WatchEventsAsync(stop.Token), stop, stopTimeout ?? TimeSpan.FromSeconds(10));
    }

    /// <summary>The events seen so far for the instance, for failure messages.</summary>
    public IReadOnlyList<InstanceEvent> Seen => _seen;

    /// <summary>Sets the instance whose events count; events of every other instance are ignored.</summary>
    public void Track(Guid instanceId) => _instanceId = instanceId;

    /// <summary>Waits until an event with <paramref name="state"/> arrives for the tracked instance.</summary>
    public async Task ExpectAsync(PowerState state, string after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var next = await _events.Reader.ReadAsync(bounded.Token);
                if (next.InstanceId != _instanceId)
                {
                    continue;
                }

                _seen.Add(next);
                if (next.PowerState == state)
                {
                    _reached = state;
                    return;
                }

                Assert.True(next.PowerState == _reached,
                    $"After {after}, expected an event with {state} but got {next.Kind}/{next.PowerState} (events so far: {Describe()}).");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"After {after}, no event with {state} arrived within {timeout} (events so far: {Describe()}).");
        }
        catch (ChannelClosedException ex)
        {
            Assert.Fail($"After {after}, the event stream ended before an event with {state} ({ex.InnerException?.GetType().Name}: {ex.InnerException?.Message}; events so far: {Describe()}).");
        }
    }

    /// <summary>Stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            // A driver whose stream ignores cancellation must not hang the kit; CancellationTests reports it.
            await _pump.WaitAsync(_stopTimeout);
        }
        catch (OperationCanceledException)
        {
            // Expected: the watch was cancelled.
        }
        catch (TimeoutException)
        {
            // Abandoned; see above.
        }

        _stop.Dispose();
    }

    private string Describe() => _seen.Count == 0 ? "none" : string.Join(", ", _seen.Select(e => $"{e.Kind}/{e.PowerState}"));

    private async Task PumpAsync(IAsyncEnumerable<InstanceEvent> source, CancellationToken cancellationToken)
    {
        // No yield before the first MoveNextAsync: a driver that subscribes lazily subscribes during Start.
        Exception? failure = null;
        try
        {
            await foreach (var item in source.WithCancellation(cancellationToken))
            {
                await _events.Writer.WriteAsync(item, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped.
        }
        catch (Exception ex) when (ex is HypervisorException or InvalidOperationException)
        {
            failure = ex;
        }
        finally
        {
            _events.Writer.TryComplete(failure);
        }
    }
}
