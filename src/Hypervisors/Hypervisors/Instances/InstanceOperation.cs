namespace Hypervisors;

/// <summary>The operations of the contract, used by capabilities, state rules, errors and telemetry.</summary>
public enum InstanceOperation
{
    GetHostInfo,
    ListInstances,
    GetInstance,
    Create,
    Start,
    Stop,
    PowerOff,
    SoftReboot,
    HardReboot,
    Pause,
    Unpause,
    Suspend,
    Resume,
    Delete,
    GetConsoleOutput,
    GetDevices,
    AttachVolume,
    DetachVolume,
    AttachInterface,
    DetachInterface,
    CreateSnapshot,
    ListSnapshots,
    DeleteSnapshot,
    WatchEvents,
}
