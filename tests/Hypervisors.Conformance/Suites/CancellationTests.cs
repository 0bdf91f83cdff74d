namespace Hypervisors.Conformance;

/// <summary>Cancellation: a cancelled token stops a call before it changes anything, and ends an event watch.</summary>
public abstract class CancellationTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_cancelled_create_throws_and_creates_nothing()
    {
        var spec = NewSpec();
        await using var guard = CleanupGuard(spec);
        await KitAssert.CanceledAsync(() => Driver.CreateInstanceAsync(spec, Cancelled()), "CreateInstanceAsync");
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct), "GetInstanceAsync after a cancelled create");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_cancelled_start_throws_and_leaves_the_instance_shut_down()
    {
        await using var instance = await CreateInstanceAsync();
        await KitAssert.CanceledAsync(() => Driver.StartInstanceAsync(instance.Id, Cancelled()), "StartInstanceAsync");
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Shutdown, "a cancelled start", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_cancelled_power_off_throws_and_leaves_the_instance_running()
    {
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        await KitAssert.CanceledAsync(() => Driver.PowerOffInstanceAsync(instance.Id, Cancelled()), "PowerOffInstanceAsync");
        await KitAssert.CanceledAsync(() => Driver.StopInstanceAsync(instance.Id, Fixture.GracefulStopTimeout, Cancelled()), "StopInstanceAsync");
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "a cancelled power off and stop", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_cancelled_delete_throws_and_keeps_the_instance()
    {
        await using var instance = await CreateInstanceAsync();
        await KitAssert.CanceledAsync(() => Driver.DeleteInstanceAsync(instance.Id, Cancelled()), "DeleteInstanceAsync");
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Cancelled_reads_throw_operation_canceled()
    {
        await using var instance = await CreateInstanceAsync();
        await KitAssert.CanceledAsync(() => Driver.GetHostInfoAsync(Cancelled()), "GetHostInfoAsync");
        await KitAssert.CanceledAsync(() => Driver.ListInstancesAsync(Cancelled()), "ListInstancesAsync");
        await KitAssert.CanceledAsync(() => Driver.GetInstanceAsync(instance.Id, Cancelled()), "GetInstanceAsync");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Cancelling_an_event_watch_ends_the_enumeration()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var events = Driver.WatchEventsAsync(watch.Token).GetAsyncEnumerator(watch.Token);
        var pending = events.MoveNextAsync().AsTask();
        await watch.CancelAsync();
        var (ended, last) = await EndsAsync(events, pending);
        if (last.IsCompleted)
        {
            try
            {
                await events.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // Some enumerators rethrow on dispose after cancellation.
            }
        }

        Assert.True(ended, $"The event enumeration was still going {Fixture.EventTimeout} after its token was cancelled.");
    }

    /// <summary>
    /// Drains events already queued until the enumeration ends (false or cancellation) or the timeout passes;
    /// returns whether it ended and the last pending move.
    /// </summary>
    private async Task<(bool Ended, Task<bool> Last)> EndsAsync(IAsyncEnumerator<InstanceEvent> events, Task<bool> pending)
    {
        var deadline = Task.Delay(Fixture.EventTimeout, Ct);
        while (true)
        {
            if (await Task.WhenAny(pending, deadline) != pending)
            {
                return (false, pending);
            }

            try
            {
                if (!await pending)
                {
                    return (true, pending);
                }
            }
            catch (OperationCanceledException)
            {
                return (true, pending);
            }

            pending = events.MoveNextAsync().AsTask();
        }
    }

    private static CancellationToken Cancelled() => new(canceled: true);
}
