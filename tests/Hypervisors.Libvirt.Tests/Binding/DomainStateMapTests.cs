using Hypervisors.Libvirt.Mapping;

namespace Hypervisors.Libvirt.Tests.Binding;

public sealed class DomainStateMapTests
{
    [Theory]
    [InlineData(1, false, PowerState.Running)]
    [InlineData(2, false, PowerState.Running)]
    [InlineData(3, false, PowerState.Paused)]
    [InlineData(4, false, PowerState.Running)]
    [InlineData(5, false, PowerState.Shutdown)]
    [InlineData(5, true, PowerState.Suspended)]
    [InlineData(6, false, PowerState.Crashed)]
    [InlineData(0, false, PowerState.NoState)]
    public void Domain_states_map_as_nova_maps_them(int state, bool managedSave, PowerState expected) =>
        Assert.Equal(expected, DomainStateMap.ToPowerState(state, managedSave));

    [Theory]
    [InlineData(0, 0, InstanceEventKind.Created, PowerState.Shutdown)]
    [InlineData(1, 0, InstanceEventKind.Deleted, PowerState.NoState)]
    [InlineData(2, 0, InstanceEventKind.Started, PowerState.Running)]
    [InlineData(2, 2, InstanceEventKind.Started, PowerState.Running)]
    [InlineData(3, 0, InstanceEventKind.Paused, PowerState.Paused)]
    [InlineData(4, 0, InstanceEventKind.Resumed, PowerState.Running)]
    [InlineData(5, 1, InstanceEventKind.Stopped, PowerState.Shutdown)]
    [InlineData(5, 4, InstanceEventKind.Suspended, PowerState.Suspended)]
    [InlineData(5, 2, InstanceEventKind.Crashed, PowerState.Crashed)]
    [InlineData(8, 0, InstanceEventKind.Crashed, PowerState.Crashed)]
    public void Lifecycle_events_map_to_contract_events(int type, int detail, InstanceEventKind kind, PowerState state) =>
        Assert.Equal((kind, state), DomainStateMap.ToEvent(type, detail));

    [Theory]
    [InlineData(0, 1)]
    [InlineData(6, 1)]
    [InlineData(7, 0)]
    public void Redefinitions_and_shutdown_requests_are_not_surfaced(int type, int detail) => Assert.Null(DomainStateMap.ToEvent(type, detail));
}
