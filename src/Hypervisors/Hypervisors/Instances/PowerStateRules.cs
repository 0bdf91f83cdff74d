namespace Hypervisors;

/// <summary>
/// The power-state machine of the contract: which states each operation accepts and which state it leaves.
/// It is the intersection of what libvirt, the vSphere API, XenAPI and Hyper-V accept, so a driver never has
/// to emulate a transition its hypervisor refuses.
/// </summary>
public static class PowerStateRules
{
    private static readonly PowerState[] Any =
        [PowerState.NoState, PowerState.Running, PowerState.Paused, PowerState.Shutdown, PowerState.Crashed, PowerState.Suspended];

    /// <summary>The states from which <paramref name="operation"/> may be called.</summary>
    public static IReadOnlyList<PowerState> AllowedFrom(InstanceOperation operation) => operation switch
    {
        InstanceOperation.Start => [PowerState.Shutdown, PowerState.Crashed],
        InstanceOperation.Stop => [PowerState.Running, PowerState.Paused, PowerState.Crashed],
        InstanceOperation.PowerOff => [PowerState.Running, PowerState.Paused, PowerState.Crashed],
        InstanceOperation.SoftReboot => [PowerState.Running],
        InstanceOperation.HardReboot => [PowerState.Running, PowerState.Paused, PowerState.Crashed],
        InstanceOperation.Pause => [PowerState.Running],
        InstanceOperation.Unpause => [PowerState.Paused],
        InstanceOperation.Suspend => [PowerState.Running],
        InstanceOperation.Resume => [PowerState.Suspended],
        _ => Any,
    };

    /// <summary>The state an instance is in after <paramref name="operation"/> succeeds, or null when it does not change.</summary>
    public static PowerState? ResultOf(InstanceOperation operation) => operation switch
    {
        InstanceOperation.Start => PowerState.Running,
        InstanceOperation.Stop => PowerState.Shutdown,
        InstanceOperation.PowerOff => PowerState.Shutdown,
        InstanceOperation.SoftReboot => PowerState.Running,
        InstanceOperation.HardReboot => PowerState.Running,
        InstanceOperation.Pause => PowerState.Paused,
        InstanceOperation.Unpause => PowerState.Running,
        InstanceOperation.Suspend => PowerState.Suspended,
        InstanceOperation.Resume => PowerState.Running,
        _ => null,
    };

    /// <summary>Whether <paramref name="operation"/> may be called on an instance in <paramref name="state"/>.</summary>
    public static bool IsAllowed(InstanceOperation operation, PowerState state) => AllowedFrom(operation).Contains(state);

    /// <summary>Throws <see cref="InvalidPowerStateException"/> unless <paramref name="operation"/> accepts <paramref name="state"/>.</summary>
    public static void EnsureAllowed(InstanceOperation operation, Guid instanceId, PowerState state)
    {
        if (!IsAllowed(operation, state))
        {
            throw new InvalidPowerStateException(instanceId, operation, state);
        }
    }
}
