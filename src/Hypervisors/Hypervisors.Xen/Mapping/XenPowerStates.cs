namespace Hypervisors.Xen.Mapping;

/// <summary>XenAPI's <c>vm_power_state</c> names and the contract's <see cref="PowerState"/>.</summary>
internal static class XenPowerStates
{
    /// <summary>Maps "Halted", "Running", "Paused", "Suspended" (any case, as records and error parameters give them).</summary>
    public static PowerState Parse(string? state) => state?.ToUpperInvariant() switch
    {
        "HALTED" => PowerState.Shutdown,
        "RUNNING" => PowerState.Running,
        "PAUSED" => PowerState.Paused,
        "SUSPENDED" => PowerState.Suspended,
        "CRASHED" => PowerState.Crashed,
        _ => PowerState.NoState,
    };

    /// <summary>The event a change from <paramref name="before"/> to <paramref name="after"/> reports, or null.</summary>
    public static InstanceEventKind? Transition(PowerState before, PowerState after) => (before, after) switch
    {
        _ when before == after => null,
        (PowerState.Paused, PowerState.Running) => InstanceEventKind.Resumed,
        (_, PowerState.Running) => InstanceEventKind.Started,
        (_, PowerState.Shutdown) => InstanceEventKind.Stopped,
        (_, PowerState.Paused) => InstanceEventKind.Paused,
        (_, PowerState.Suspended) => InstanceEventKind.Suspended,
        (_, PowerState.Crashed) => InstanceEventKind.Crashed,
        _ => null,
    };
}
