namespace Hypervisors.Tests;

public sealed class PowerStateRulesTests
{
    // The contract's table, written out independently of PowerStateRules: operation -> (allowed from, result).
    private static readonly Dictionary<InstanceOperation, (PowerState[] From, PowerState To)> Table = new()
    {
        [InstanceOperation.Start] = ([PowerState.Shutdown, PowerState.Crashed], PowerState.Running),
        [InstanceOperation.Stop] = ([PowerState.Running, PowerState.Paused, PowerState.Crashed], PowerState.Shutdown),
        [InstanceOperation.PowerOff] = ([PowerState.Running, PowerState.Paused, PowerState.Crashed], PowerState.Shutdown),
        [InstanceOperation.SoftReboot] = ([PowerState.Running], PowerState.Running),
        [InstanceOperation.HardReboot] = ([PowerState.Running, PowerState.Paused, PowerState.Crashed], PowerState.Running),
        [InstanceOperation.Pause] = ([PowerState.Running], PowerState.Paused),
        [InstanceOperation.Unpause] = ([PowerState.Paused], PowerState.Running),
        [InstanceOperation.Suspend] = ([PowerState.Running], PowerState.Suspended),
        [InstanceOperation.Resume] = ([PowerState.Suspended], PowerState.Running),
    };

    [Fact]
    public void Every_power_operation_is_allowed_exactly_from_its_states()
    {
        foreach (var (operation, (from, _)) in Table)
        {
            foreach (var state in Enum.GetValues<PowerState>())
            {
                Assert.True(from.Contains(state) == PowerStateRules.IsAllowed(operation, state), $"{operation} from {state}");
            }
        }
    }

    [Fact]
    public void Every_power_operation_leaves_its_result_state()
    {
        foreach (var (operation, (_, to)) in Table)
        {
            Assert.Equal(to, PowerStateRules.ResultOf(operation));
        }
    }

    [Fact]
    public void Other_operations_are_allowed_from_any_state_and_change_nothing()
    {
        foreach (var operation in Enum.GetValues<InstanceOperation>().Where(o => !Table.ContainsKey(o)))
        {
            Assert.Null(PowerStateRules.ResultOf(operation));
            Assert.All(Enum.GetValues<PowerState>(), s => Assert.True(PowerStateRules.IsAllowed(operation, s)));
        }
    }

    [Fact]
    public void A_refused_operation_throws_with_the_current_state_and_what_it_needs()
    {
        var id = Guid.NewGuid();
        var ex = Assert.Throws<InvalidPowerStateException>(() => PowerStateRules.EnsureAllowed(InstanceOperation.Pause, id, PowerState.Shutdown));
        Assert.Equal(PowerState.Shutdown, ex.CurrentState);
        Assert.Equal(InstanceOperation.Pause, ex.Operation);
        Assert.Equal(id, ex.InstanceId);
        Assert.Equal(HypervisorErrorKind.InvalidPowerState, ex.Kind);
        Assert.Contains("needs Running", ex.Message, StringComparison.Ordinal);
        PowerStateRules.EnsureAllowed(InstanceOperation.Pause, id, PowerState.Running);
    }

    [Fact]
    public void Power_state_values_are_novas()
    {
        Assert.Equal([0, 1, 3, 4, 6, 7], Enum.GetValues<PowerState>().Select(s => (int)s));
    }

    [Fact]
    public void Only_unavailable_and_timeout_errors_are_transient()
    {
        Assert.True(new HypervisorUnavailableException("x").IsTransient);
        Assert.True(new HypervisorTimeoutException("x").IsTransient);
        Assert.False(new InstanceNotFoundException(Guid.NewGuid()).IsTransient);
        Assert.False(new HypervisorException("x").IsTransient);
        Assert.Equal(HypervisorErrorKind.Unknown, new HypervisorException("x").Kind);
    }

    [Fact]
    public void Capabilities_gate_exactly_their_operations()
    {
        var none = new DriverCapabilities { HypervisorType = "T", SupportsDeviceListing = false };
        var mandatory = new[]
        {
            InstanceOperation.GetHostInfo, InstanceOperation.ListInstances, InstanceOperation.GetInstance, InstanceOperation.Create,
            InstanceOperation.Start, InstanceOperation.Stop, InstanceOperation.PowerOff, InstanceOperation.HardReboot, InstanceOperation.Delete,
        };
        Assert.Equal(mandatory.Order(), Enum.GetValues<InstanceOperation>().Where(none.Supports).Order());
        Assert.True(new DriverCapabilities { HypervisorType = "T" }.Supports(InstanceOperation.GetDevices));
        Assert.True((none with { SupportsPause = true }).Supports(InstanceOperation.Unpause));
        Assert.True((none with { SupportsSnapshots = true }).Supports(InstanceOperation.DeleteSnapshot));
        Assert.False((none with { SupportsSnapshots = true }).Supports(InstanceOperation.Suspend));
    }
}
