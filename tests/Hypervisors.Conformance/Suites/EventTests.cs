namespace Hypervisors.Conformance;

/// <summary>Lifecycle events: every state change of an instance arrives, in order, with the state it left.</summary>
public abstract class EventTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Lifecycle_events_arrive_in_order_with_their_power_states()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        await using var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        var spec = NewSpec();
        recorder.Track(spec.Id);
        await using var instance = CleanupGuard(spec);
        var timeout = Fixture.EventTimeout;

        await Driver.CreateInstanceAsync(spec, Ct);
        await recorder.ExpectAsync(PowerState.Shutdown, "create", timeout, Ct);
        await Driver.StartInstanceAsync(spec.Id, Ct);
        await recorder.ExpectAsync(PowerState.Running, "start", timeout, Ct);
        if (Capabilities.SupportsPause)
        {
            await Driver.PauseInstanceAsync(spec.Id, Ct);
            await recorder.ExpectAsync(PowerState.Paused, "pause", timeout, Ct);
            await Driver.UnpauseInstanceAsync(spec.Id, Ct);
            await recorder.ExpectAsync(PowerState.Running, "unpause", timeout, Ct);
        }

        await Driver.StopInstanceAsync(spec.Id, Fixture.GracefulStopTimeout, Ct);
        await recorder.ExpectAsync(PowerState.Shutdown, "stop", timeout, Ct);
        await Driver.DeleteInstanceAsync(spec.Id, Ct);
        await recorder.ExpectAsync(PowerState.NoState, "delete", timeout, Ct);
        Assert.Equal(InstanceEventKind.Deleted, recorder.Seen[^1].Kind);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Pause_and_unpause_events_carry_paused_and_running()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        RequireCapability(Capabilities.SupportsPause, nameof(DriverCapabilities.SupportsPause));
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        await using var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        recorder.Track(instance.Id);
        await Driver.PauseInstanceAsync(instance.Id, Ct);
        await recorder.ExpectAsync(PowerState.Paused, "pause", Fixture.EventTimeout, Ct);
        Assert.Equal(InstanceEventKind.Paused, recorder.Seen[^1].Kind);
        await Driver.UnpauseInstanceAsync(instance.Id, Ct);
        await recorder.ExpectAsync(PowerState.Running, "unpause", Fixture.EventTimeout, Ct);
        Assert.Equal(InstanceEventKind.Resumed, recorder.Seen[^1].Kind);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Every_subscriber_gets_the_events()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        await using var first = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        await using var second = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        var spec = NewSpec();
        first.Track(spec.Id);
        second.Track(spec.Id);
        await using var instance = CleanupGuard(spec);
        await Driver.CreateInstanceAsync(spec, Ct);
        await first.ExpectAsync(PowerState.Shutdown, "create (first subscriber)", Fixture.EventTimeout, Ct);
        await second.ExpectAsync(PowerState.Shutdown, "create (second subscriber)", Fixture.EventTimeout, Ct);
    }
}
