namespace Hypervisors.Conformance;

/// <summary>
/// The power-state machine: every operation ends in <see cref="PowerStateRules.ResultOf"/>, every illegal
/// transition is refused with <see cref="InvalidPowerStateException"/> and changes nothing, delete works from every
/// state, unknown ids are <see cref="InstanceNotFoundException"/>, and capabilities declared false are refused.
/// </summary>
public abstract class LifecycleTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Creating_an_instance_leaves_it_shut_down()
    {
        await using var instance = await CreateInstanceAsync();
        Assert.Equal(PowerState.Shutdown, instance.Created.PowerState);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Shutdown, "create", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Creating_with_start_after_create_leaves_it_running()
    {
        await using var instance = await CreateInstanceAsync(s => s with { StartAfterCreate = true });
        Assert.True(instance.Created.PowerState == PowerState.Running, $"Create with StartAfterCreate returned {instance.Created.PowerState}; expected Running.");
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "create with StartAfterCreate", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Starting_a_stopped_instance_leaves_it_running() =>
        await AssertTransitionAsync(PowerState.Shutdown, InstanceOperation.Start);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Stopping_a_running_instance_gracefully_leaves_it_shut_down() =>
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.Stop);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Stopping_with_a_zero_timeout_powers_off_at_once()
    {
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        await Driver.StopInstanceAsync(instance.Id, TimeSpan.Zero, Ct);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Shutdown, "stop with a zero timeout", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Powering_off_a_running_instance_leaves_it_shut_down() =>
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.PowerOff);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Hard_rebooting_a_running_instance_leaves_it_running() =>
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.HardReboot);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Soft_rebooting_a_running_instance_leaves_it_running()
    {
        RequireCapability(Capabilities.SupportsSoftReboot, nameof(DriverCapabilities.SupportsSoftReboot));
        RequireCooperatingGuests("a soft reboot");
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.SoftReboot);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Pausing_a_running_instance_leaves_it_paused()
    {
        RequireCapability(Capabilities.SupportsPause, nameof(DriverCapabilities.SupportsPause));
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.Pause);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Unpausing_a_paused_instance_leaves_it_running() =>
        await AssertTransitionAsync(PowerState.Paused, InstanceOperation.Unpause);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Suspending_a_running_instance_leaves_it_suspended()
    {
        RequireCapability(Capabilities.SupportsSuspend, nameof(DriverCapabilities.SupportsSuspend));
        RequireCooperatingGuests("suspend");
        await AssertTransitionAsync(PowerState.Running, InstanceOperation.Suspend);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Resuming_a_suspended_instance_leaves_it_running() =>
        await AssertTransitionAsync(PowerState.Suspended, InstanceOperation.Resume);

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task Every_allowed_operation_from_a_reachable_state_ends_in_its_result_state(PowerState from)
    {
        SkipUnlessReachable(from);
        foreach (var operation in PowerOperations.Where(o => PowerStateRules.IsAllowed(o, from) && Capabilities.Supports(o) && (Fixture.GuestsCooperate || !NeedsGuest(o))))
        {
            await AssertTransitionAsync(from, operation);
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Pausing_a_stopped_instance_throws_invalid_power_state()
    {
        RequireCapability(Capabilities.SupportsPause, nameof(DriverCapabilities.SupportsPause));
        await AssertRefusedAsync(PowerState.Shutdown, InstanceOperation.Pause);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Starting_a_running_instance_throws_invalid_power_state() =>
        await AssertRefusedAsync(PowerState.Running, InstanceOperation.Start);

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Stopping_a_stopped_instance_throws_invalid_power_state() =>
        await AssertRefusedAsync(PowerState.Shutdown, InstanceOperation.Stop);

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task Every_illegal_operation_from_a_reachable_state_throws_invalid_power_state_and_changes_nothing(PowerState from)
    {
        SkipUnlessReachable(from);
        await using var instance = await CreateInstanceInStateAsync(from);
        foreach (var operation in PowerOperations.Where(o => !PowerStateRules.IsAllowed(o, from) && Capabilities.Supports(o)))
        {
            await KitAssert.InvalidPowerStateAsync(() => InvokeAsync(operation, instance.Id, Ct), operation, from);
            await KitAssert.PowerStateIsAsync(Driver, instance.Id, from, $"a refused {operation}", Ct);
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task Deleting_an_instance_removes_it_from_any_reachable_state(PowerState from)
    {
        await using var instance = await CreateInstanceInStateAsync(from);
        await Driver.DeleteInstanceAsync(instance.Id, Ct);
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(instance.Id, Ct), $"GetInstanceAsync after deleting from {from}");
        Assert.DoesNotContain(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Getting_an_unknown_instance_throws_instance_not_found()
    {
        var id = Guid.NewGuid();
        var ex = await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(id, Ct), "GetInstanceAsync of an unknown id");
        Assert.Equal(id, ex.MissingInstanceId);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Deleting_an_unknown_instance_throws_instance_not_found()
    {
        var id = Guid.NewGuid();
        var ex = await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.DeleteInstanceAsync(id, Ct), "DeleteInstanceAsync of an unknown id");
        Assert.Equal(id, ex.MissingInstanceId);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Power_operations_on_an_unknown_instance_throw_instance_not_found()
    {
        var id = Guid.NewGuid();
        foreach (var operation in PowerOperations.Where(Capabilities.Supports))
        {
            await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => InvokeAsync(operation, id, Ct), $"{operation} of an unknown id");
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(InstanceOperation.GetInstance)]
    [InlineData(InstanceOperation.Start)]
    [InlineData(InstanceOperation.Stop)]
    [InlineData(InstanceOperation.PowerOff)]
    [InlineData(InstanceOperation.SoftReboot)]
    [InlineData(InstanceOperation.HardReboot)]
    [InlineData(InstanceOperation.Pause)]
    [InlineData(InstanceOperation.Unpause)]
    [InlineData(InstanceOperation.Suspend)]
    [InlineData(InstanceOperation.Resume)]
    [InlineData(InstanceOperation.Delete)]
    [InlineData(InstanceOperation.GetConsoleOutput)]
    [InlineData(InstanceOperation.GetDevices)]
    [InlineData(InstanceOperation.AttachVolume)]
    [InlineData(InstanceOperation.DetachVolume)]
    [InlineData(InstanceOperation.AttachInterface)]
    [InlineData(InstanceOperation.DetachInterface)]
    [InlineData(InstanceOperation.CreateSnapshot)]
    [InlineData(InstanceOperation.ListSnapshots)]
    [InlineData(InstanceOperation.DeleteSnapshot)]
    public virtual async Task Every_operation_on_an_unknown_instance_throws_instance_not_found_naming_it(InstanceOperation operation)
    {
        RequireCapability(Capabilities.Supports(operation), CapabilityOf(operation));
        var id = Guid.NewGuid();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bounded.CancelAfter(Fixture.EventTimeout * 3);
        var ex = await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => InvokeAnyAsync(operation, id, bounded.Token), $"{operation} of an unknown id");
        Assert.True(ex.MissingInstanceId == id, $"{operation} of unknown id {id} threw InstanceNotFoundException with MissingInstanceId {ex.MissingInstanceId}.");
        Assert.True(ex.InstanceId == id, $"{operation} of unknown id {id} threw InstanceNotFoundException with InstanceId {ex.InstanceId?.ToString() ?? "null"}.");
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Invalid_arguments_throw_invalid_spec_and_change_nothing()
    {
        await using var instance = await CreateInstanceInStateAsync(PowerState.Running);
        var emptyId = await KitAssert.ThrowsAsync<InvalidSpecException>(() => Driver.StartInstanceAsync(Guid.Empty, Ct), "StartInstanceAsync of the empty UUID");
        Assert.Equal("instanceId", emptyId.Field);
        await KitAssert.ThrowsAsync<InvalidSpecException>(() => Driver.StopInstanceAsync(instance.Id, TimeSpan.FromSeconds(-1), Ct), "StopInstanceAsync with a negative timeout");
        await KitAssert.ThrowsAsync<InvalidSpecException>(() => Driver.RebootInstanceAsync(instance.Id, (RebootKind)42, Ct), "RebootInstanceAsync with an undefined kind");
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "refused calls with invalid arguments", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Operations_declared_unsupported_throw_operation_not_supported()
    {
        var caps = Capabilities;
        var unsupported = Enum.GetValues<InstanceOperation>().Where(o => !caps.Supports(o)).ToList();
        if (unsupported.Count == 0)
        {
            Assert.Skip("The driver declares every optional capability true; nothing to refuse.");
        }

        await using var instance = await CreateInstanceAsync();
        foreach (var operation in unsupported)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bounded.CancelAfter(Fixture.EventTimeout);
            await KitAssert.NotSupportedAsync(() => InvokeAnyAsync(operation, instance.Id, bounded.Token), CapabilityOf(operation), operation);
        }
    }

    /// <summary>Creates an instance in <paramref name="from"/>, applies <paramref name="operation"/> and checks the result state.</summary>
    protected async Task AssertTransitionAsync(PowerState from, InstanceOperation operation)
    {
        await using var instance = await CreateInstanceInStateAsync(from);
        RequireCapability(Capabilities.Supports(operation), CapabilityOf(operation));
        await InvokeAsync(operation, instance.Id, Ct);
        var expected = PowerStateRules.ResultOf(operation) ?? from;
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, expected, $"{operation} from {from}", Ct);
    }

    /// <summary>Creates an instance in <paramref name="from"/> and checks <paramref name="operation"/> is refused and changes nothing.</summary>
    protected async Task AssertRefusedAsync(PowerState from, InstanceOperation operation)
    {
        await using var instance = await CreateInstanceInStateAsync(from);
        await KitAssert.InvalidPowerStateAsync(() => InvokeAsync(operation, instance.Id, Ct), operation, from);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, from, $"a refused {operation}", Ct);
    }
}
