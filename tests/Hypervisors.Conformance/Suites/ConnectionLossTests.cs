namespace Hypervisors.Conformance;

/// <summary>
/// Implemented by a fixture that can cut its driver's connection to the hypervisor, for
/// <see cref="ConnectionLossTests{TFixture}"/>. Fixtures that cannot leave the suite's tests skipped.
/// </summary>
public interface IConnectionLossFixture
{
    /// <summary>
    /// Cuts the driver's connection (its session, socket or subscription is lost as in a network failure or a daemon
    /// restart), runs <paramref name="whileDown"/>, then lets the connection come back (the driver reconnects by
    /// itself). <paramref name="whileDown"/> receives a second driver on the same host to change things with while the
    /// first is cut off, or null when the fixture has none.
    /// </summary>
    Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken);
}

/// <summary>
/// What a watcher sees after a lost connection (see <see cref="IHypervisorDriver.WatchEventsAsync"/>): the stream stays
/// open, live events continue once the driver has reconnected, and a change made while the connection was down is
/// reported by the resynchronisation.
/// </summary>
public abstract class ConnectionLossTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task The_event_stream_survives_a_lost_connection_and_live_events_continue()
    {
        var interrupting = RequireInterruptingFixture();
        var (instance, recorder) = await WatchNewInstanceAsync();
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;

        await interrupting.InterruptConnectionAsync(null, Ct);

        await RetryWhileReconnectingAsync(() => Driver.StartInstanceAsync(instance.Id, Ct));
        await recorder.ExpectAsync(PowerState.Running, "a start after the connection was lost", Fixture.EventTimeout, Ct);
        await RetryWhileReconnectingAsync(() => Driver.PowerOffInstanceAsync(instance.Id, Ct));
        await recorder.ExpectAsync(PowerState.Shutdown, "a power off after the connection was lost", Fixture.EventTimeout, Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_change_made_while_the_connection_was_down_is_reported_once_it_is_back()
    {
        var interrupting = RequireInterruptingFixture();
        var (instance, recorder) = await WatchNewInstanceAsync();
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;
        var changed = false;

        await interrupting.InterruptConnectionAsync(async other =>
        {
            if (other is not null)
            {
                await other.StartInstanceAsync(instance.Id, Ct);
                changed = true;
            }
        }, Ct);

        if (!changed)
        {
            Assert.Skip("The fixture has no second driver to change the host with while the first is cut off.");
        }

        // Reconnecting and resynchronising may take a few reconnect waits; the kit allows twice the event timeout.
        await recorder.ExpectAsync(PowerState.Running, "a start made by another client while the connection was down", Fixture.EventTimeout * 2, Ct);
    }

    /// <summary>Watches, then creates an instance and waits for its create event, so no late event of the create is mistaken for a later one.</summary>
    private async Task<(KitInstance Instance, EventRecorder Recorder)> WatchNewInstanceAsync()
    {
        var spec = NewSpec();
        var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        recorder.Track(spec.Id);
        var instance = CleanupGuard(spec);
        try
        {
            await Driver.CreateInstanceAsync(spec, Ct);
            await recorder.ExpectAsync(PowerState.Shutdown, "create", Fixture.EventTimeout, Ct);
            return (instance, recorder);
        }
        catch
        {
            await recorder.DisposeAsync();
            await instance.DisposeAsync();
            throw;
        }
    }

    private IConnectionLossFixture RequireInterruptingFixture()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        if (Fixture is not IConnectionLossFixture interrupting)
        {
            Assert.Skip($"{typeof(TFixture).Name} cannot cut its driver's connection (it does not implement {nameof(IConnectionLossFixture)}).");
            throw new InvalidOperationException("unreachable");
        }

        return interrupting;
    }

    /// <summary>Runs <paramref name="call"/>, repeating it while it fails as unavailable (the driver is reconnecting), up to the event timeout.</summary>
    private async Task RetryWhileReconnectingAsync(Func<Task> call)
    {
        var deadline = DateTime.UtcNow + Fixture.EventTimeout;
        while (true)
        {
            try
            {
                await call();
                return;
            }
            catch (HypervisorException ex) when (ex.IsTransient && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), Ct);
            }
        }
    }
}
