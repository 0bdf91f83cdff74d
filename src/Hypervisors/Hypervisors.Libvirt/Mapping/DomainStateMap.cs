using Hypervisors.Libvirt.Native;

namespace Hypervisors.Libvirt.Mapping;

/// <summary>libvirt domain states and lifecycle events in the contract's terms, as Nova's libvirt driver maps them.</summary>
internal static class DomainStateMap
{
    /// <summary>
    /// The power state for a <c>virDomainState</c>. A shut-off domain with a managed-save image is
    /// <see cref="PowerState.Suspended"/> (Nova's suspend is libvirt's managed save).
    /// </summary>
    public static PowerState ToPowerState(int state, bool hasManagedSave) => state switch
    {
        VirConstants.DomainRunning or VirConstants.DomainBlocked => PowerState.Running,
        VirConstants.DomainPaused => PowerState.Paused,
        VirConstants.DomainShutdown => PowerState.Running, // still running while the guest shuts down
        VirConstants.DomainShutoff => hasManagedSave ? PowerState.Suspended : PowerState.Shutdown,
        VirConstants.DomainCrashed => PowerState.Crashed,
        VirConstants.DomainPmSuspended => PowerState.Suspended,
        _ => PowerState.NoState,
    };

    /// <summary>
    /// The contract event for a <c>VIR_DOMAIN_EVENT_ID_LIFECYCLE</c> event and its detail, or null for events the
    /// contract does not surface (a redefinition, a guest beginning to shut down).
    /// </summary>
    public static (InstanceEventKind Kind, PowerState State)? ToEvent(int eventType, int detail) => eventType switch
    {
        VirConstants.EventDefined when detail == VirConstants.EventDefinedAdded => (InstanceEventKind.Created, PowerState.Shutdown),
        VirConstants.EventUndefined => (InstanceEventKind.Deleted, PowerState.NoState),
        VirConstants.EventStarted => (InstanceEventKind.Started, PowerState.Running),
        VirConstants.EventSuspended => (InstanceEventKind.Paused, PowerState.Paused),
        VirConstants.EventResumed => (InstanceEventKind.Resumed, PowerState.Running),
        VirConstants.EventStopped when detail == VirConstants.EventStoppedSaved => (InstanceEventKind.Suspended, PowerState.Suspended),
        VirConstants.EventStopped when detail == VirConstants.EventStoppedCrashed => (InstanceEventKind.Crashed, PowerState.Crashed),
        VirConstants.EventStopped => (InstanceEventKind.Stopped, PowerState.Shutdown),
        VirConstants.EventCrashed => (InstanceEventKind.Crashed, PowerState.Crashed),
        _ => null,
    };
}
