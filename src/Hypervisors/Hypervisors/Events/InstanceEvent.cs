namespace Hypervisors;

/// <summary>What happened to an instance.</summary>
public enum InstanceEventKind
{
    /// <summary>Defined.</summary>
    Created,

    /// <summary>Began running (started, restored, or rebooted back to running).</summary>
    Started,

    /// <summary>Powered off.</summary>
    Stopped,

    /// <summary>Paused.</summary>
    Paused,

    /// <summary>Continued after a pause.</summary>
    Resumed,

    /// <summary>Saved to storage.</summary>
    Suspended,

    /// <summary>Crashed.</summary>
    Crashed,

    /// <summary>Removed.</summary>
    Deleted,
}

/// <summary>A lifecycle event.</summary>
/// <param name="InstanceId">The instance's id.</param>
/// <param name="Kind">What happened.</param>
/// <param name="PowerState">The power state after the event (<see cref="PowerState.NoState"/> after a delete).</param>
/// <param name="Timestamp">When the driver saw it.</param>
public sealed record InstanceEvent(Guid InstanceId, InstanceEventKind Kind, PowerState PowerState, DateTimeOffset Timestamp);
