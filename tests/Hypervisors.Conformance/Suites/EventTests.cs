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
        var (instance, recorder) = await CreateRunningInstanceWatchedAsync();
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;
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

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Every_transition_yields_its_event_kind_and_state()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        await using var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        var spec = NewSpec();
        recorder.Track(spec.Id);
        await using var instance = CleanupGuard(spec);
        var steps = new List<(string What, Func<Task> Act, InstanceEventKind Kind, PowerState State)>
        {
            ("create", () => Driver.CreateInstanceAsync(spec, Ct), InstanceEventKind.Created, PowerState.Shutdown),
            ("start", () => Driver.StartInstanceAsync(spec.Id, Ct), InstanceEventKind.Started, PowerState.Running),
        };
        if (Capabilities.SupportsPause)
        {
            steps.Add(("pause", () => Driver.PauseInstanceAsync(spec.Id, Ct), InstanceEventKind.Paused, PowerState.Paused));
            steps.Add(("unpause", () => Driver.UnpauseInstanceAsync(spec.Id, Ct), InstanceEventKind.Resumed, PowerState.Running));
        }

        // Suspend needs the guest on some hypervisors; GuestCooperationTests checks its refusal where the guest cannot.
        if (Capabilities.SupportsSuspend && Fixture.GuestsCooperate)
        {
            steps.Add(("suspend", () => Driver.SuspendInstanceAsync(spec.Id, Ct), InstanceEventKind.Suspended, PowerState.Suspended));
            steps.Add(("resume", () => Driver.ResumeInstanceAsync(spec.Id, Ct), InstanceEventKind.Started, PowerState.Running));
        }

        steps.Add(("power off", () => Driver.PowerOffInstanceAsync(spec.Id, Ct), InstanceEventKind.Stopped, PowerState.Shutdown));
        steps.Add(("start after power off", () => Driver.StartInstanceAsync(spec.Id, Ct), InstanceEventKind.Started, PowerState.Running));
        steps.Add(("graceful stop", () => Driver.StopInstanceAsync(spec.Id, Fixture.GracefulStopTimeout, Ct), InstanceEventKind.Stopped, PowerState.Shutdown));
        steps.Add(("delete", () => Driver.DeleteInstanceAsync(spec.Id, Ct), InstanceEventKind.Deleted, PowerState.NoState));
        await RunStepsAsync(recorder, steps);
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(RebootKind.Hard)]
    [InlineData(RebootKind.Soft)]
    public virtual async Task A_reboot_yields_a_started_event_with_running(RebootKind kind)
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        if (kind == RebootKind.Soft)
        {
            RequireCapability(Capabilities.SupportsSoftReboot, nameof(DriverCapabilities.SupportsSoftReboot));
            RequireCooperatingGuests("a soft reboot");
        }

        var (instance, recorder) = await CreateRunningInstanceWatchedAsync();
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;
        await Driver.RebootInstanceAsync(instance.Id, kind, Ct);
        if (Fixture.EmitsExactlyOneEventPerTransition)
        {
            await recorder.ExpectExactlyAsync(InstanceEventKind.Started, PowerState.Running, $"a {kind} reboot", Fixture.EventTimeout, Ct);
            await recorder.ExpectNoMoreAsync($"a {kind} reboot", QuietPeriod, Ct);
        }
        else
        {
            await recorder.ExpectAsync(InstanceEventKind.Started, PowerState.Running, $"a {kind} reboot", Fixture.EventTimeout, Ct, anyStateBefore: true);
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Suspend_and_resume_events_carry_suspended_then_started_with_running()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        RequireCapability(Capabilities.SupportsSuspend, nameof(DriverCapabilities.SupportsSuspend));
        RequireCooperatingGuests("suspend");
        var (instance, recorder) = await CreateRunningInstanceWatchedAsync();
        await using var disposeInstance = instance;
        await using var disposeRecorder = recorder;
        await RunStepsAsync(recorder,
        [
            ("suspend", () => Driver.SuspendInstanceAsync(instance.Id, Ct), InstanceEventKind.Suspended, PowerState.Suspended),
            ("resume", () => Driver.ResumeInstanceAsync(instance.Id, Ct), InstanceEventKind.Started, PowerState.Running),
        ], initial: PowerState.Running);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Exactly_one_event_per_transition_when_the_fixture_declares_it()
    {
        RequireCapability(Capabilities.SupportsEvents, nameof(DriverCapabilities.SupportsEvents));
        if (!Fixture.EmitsExactlyOneEventPerTransition)
        {
            Assert.Skip("The fixture does not declare EmitsExactlyOneEventPerTransition.");
        }

        await using var recorder = EventRecorder.Start(Driver, Ct, Fixture.EventTimeout);
        var spec = NewSpec();
        recorder.Track(spec.Id);
        await using var instance = CleanupGuard(spec);
        await Driver.CreateInstanceAsync(spec, Ct);
        await recorder.ExpectExactlyAsync(InstanceEventKind.Created, PowerState.Shutdown, "create", Fixture.EventTimeout, Ct);
        await Driver.CreateInstanceAsync(spec, Ct);
        await recorder.ExpectNoMoreAsync("repeating an idempotent create", QuietPeriod, Ct);
        await Driver.StartInstanceAsync(spec.Id, Ct);
        await recorder.ExpectExactlyAsync(InstanceEventKind.Started, PowerState.Running, "start", Fixture.EventTimeout, Ct);
        await KitAssert.ThrowsAsync<InvalidPowerStateException>(() => Driver.StartInstanceAsync(spec.Id, Ct), "starting a running instance");
        await recorder.ExpectNoMoreAsync("a refused start", QuietPeriod, Ct);
        await Driver.StopInstanceAsync(spec.Id, Fixture.GracefulStopTimeout, Ct);
        await recorder.ExpectExactlyAsync(InstanceEventKind.Stopped, PowerState.Shutdown, "graceful stop", Fixture.EventTimeout, Ct);
        await recorder.ExpectNoMoreAsync("graceful stop", QuietPeriod, Ct);
    }

    /// <summary>How long strict mode waits to be sure no extra event follows.</summary>
    protected TimeSpan QuietPeriod => Fixture.EventTimeout < TimeSpan.FromSeconds(1) ? Fixture.EventTimeout : TimeSpan.FromSeconds(1);

    /// <summary>Runs each step and checks its event: strictly when the fixture declares one event per transition.</summary>
    protected async Task RunStepsAsync(EventRecorder recorder, IReadOnlyList<(string What, Func<Task> Act, InstanceEventKind Kind, PowerState State)> steps, PowerState? initial = null)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        ArgumentNullException.ThrowIfNull(steps);
        if (initial is { } reached)
        {
            recorder.AssumeReached(reached);
        }

        foreach (var (what, act, kind, state) in steps)
        {
            await act();
            if (Fixture.EmitsExactlyOneEventPerTransition)
            {
                await recorder.ExpectExactlyAsync(kind, state, what, Fixture.EventTimeout, Ct);
            }
            else
            {
                await recorder.ExpectAsync(kind, state, what, Fixture.EventTimeout, Ct);
            }
        }

        if (Fixture.EmitsExactlyOneEventPerTransition)
        {
            await recorder.ExpectNoMoreAsync(steps[^1].What, QuietPeriod, Ct);
        }
    }
}
