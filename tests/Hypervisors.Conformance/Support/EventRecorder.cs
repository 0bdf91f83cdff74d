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
    /// Subscribes now; events are buffered until an <c>Expect…Async</c> method reads them. Disposing stops the watch and
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

    /// <summary>Treats <paramref name="state"/> as reached already, so repeats of it are tolerated.</summary>
    public void AssumeReached(PowerState state) => _reached = state;

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

    /// <summary>
    /// Waits until an event of <paramref name="kind"/> with <paramref name="state"/> arrives for the tracked
    /// instance. Before it, repeats of the state already reached are tolerated; with
    /// <paramref name="anyStateBefore"/> (a reboot may pass through other states) every event is.
    /// </summary>
    public async Task ExpectAsync(InstanceEventKind kind, PowerState state, string after, TimeSpan timeout, CancellationToken cancellationToken, bool anyStateBefore = false)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var next = await NextAsync(bounded.Token);
                if (next.PowerState == state && next.Kind == kind)
                {
                    _reached = state;
                    return;
                }

                Assert.True(anyStateBefore || next.PowerState == _reached,
                    $"After {after}, expected a {kind} event with {state} but got {next.Kind}/{next.PowerState} (events so far: {Describe()}).");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"After {after}, no {kind} event with {state} arrived within {timeout} (events so far: {Describe()}).");
        }
        catch (ChannelClosedException ex)
        {
            Assert.Fail($"After {after}, the event stream ended before a {kind} event with {state} ({ex.InnerException?.GetType().Name}; events so far: {Describe()}).");
        }
    }

    /// <summary>Strict: the next event for the tracked instance is exactly <paramref name="kind"/> with <paramref name="state"/>.</summary>
    public async Task ExpectExactlyAsync(InstanceEventKind kind, PowerState state, string after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            var next = await NextAsync(bounded.Token);
            Assert.True(next.Kind == kind && next.PowerState == state,
                $"After {after}, the driver declares one event per transition, so the next event should be {kind}/{state}, but it was {next.Kind}/{next.PowerState} (events so far: {Describe()}).");
            _reached = state;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"After {after}, no event arrived within {timeout}; expected {kind}/{state} (events so far: {Describe()}).");
        }
        catch (ChannelClosedException ex)
        {
            Assert.Fail($"After {after}, the event stream ended before {kind}/{state} ({ex.InnerException?.GetType().Name}; events so far: {Describe()}).");
        }
    }

    /// <summary>Strict: no further event arrives for the tracked instance within <paramref name="quiet"/>.</summary>
    public async Task ExpectNoMoreAsync(string after, TimeSpan quiet, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(quiet);
        try
        {
            var extra = await NextAsync(bounded.Token);
            Assert.Fail($"After {after}, the driver declares one event per transition, but an extra {extra.Kind}/{extra.PowerState} arrived (events so far: {Describe()}).");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Quiet, as promised.
        }
        catch (ChannelClosedException)
        {
            // The stream ended; nothing extra.
        }
    }

    private async Task<InstanceEvent> NextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = await _events.Reader.ReadAsync(cancellationToken);
            if (next.InstanceId == _instanceId)
            {
                _seen.Add(next);
                return next;
            }
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
