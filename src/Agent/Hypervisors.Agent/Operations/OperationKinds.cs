namespace Hypervisors.Agent.Operations;

/// <summary>
/// What each kind of operation does against a driver, and how to tell from the hypervisor's real state whether an
/// interrupted one already took effect (used when reconciling after a crash).
/// </summary>
internal static class OperationKinds
{
    public const string Create = "create";
    public const string Start = "start";
    public const string Stop = "stop";
    public const string Reboot = "reboot";
    public const string Pause = "pause";
    public const string Unpause = "unpause";
    public const string Suspend = "suspend";
    public const string Resume = "resume";
    public const string Delete = "delete";
    public const string AttachVolume = "attach-volume";
    public const string DetachVolume = "detach-volume";
    public const string AttachInterface = "attach-interface";
    public const string DetachInterface = "detach-interface";
    public const string PowerOff = "power-off";
    public const string CreateSnapshot = "create-snapshot";
    public const string DeleteSnapshot = "delete-snapshot";

    /// <summary>The power actions exposed as <c>POST .../{action}</c>.</summary>
    public static readonly IReadOnlyList<string> PowerActions = [Start, Stop, PowerOff, Reboot, Pause, Unpause, Suspend, Resume];

    /// <summary>The contract operation, for capability checks before anything is journaled.</summary>
    public static InstanceOperation ContractOperation(string kind, OperationRequest request) => kind switch
    {
        Create => InstanceOperation.Create,
        Start => InstanceOperation.Start,
        Stop => InstanceOperation.Stop,
        Reboot => request.RebootKind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot,
        Pause => InstanceOperation.Pause,
        Unpause => InstanceOperation.Unpause,
        Suspend => InstanceOperation.Suspend,
        Resume => InstanceOperation.Resume,
        Delete => InstanceOperation.Delete,
        AttachVolume => InstanceOperation.AttachVolume,
        DetachVolume => InstanceOperation.DetachVolume,
        AttachInterface => InstanceOperation.AttachInterface,
        DetachInterface => InstanceOperation.DetachInterface,
        PowerOff => InstanceOperation.PowerOff,
        CreateSnapshot => InstanceOperation.CreateSnapshot,
        DeleteSnapshot => InstanceOperation.DeleteSnapshot,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown operation kind."),
    };

    /// <summary>Runs the operation; returns its result object (serialized into the operation) or null.</summary>
    public static async Task<object?> ExecuteAsync(IHypervisorDriver driver, StoredOperation operation, CancellationToken cancellationToken)
    {
        var id = operation.InstanceId;
        var request = operation.Request;
        switch (operation.Kind)
        {
            case Create:
                return await driver.CreateInstanceAsync(request.Spec!, cancellationToken).ConfigureAwait(false);
            case Start:
                await driver.StartInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case Stop:
                await driver.StopInstanceAsync(id, TimeSpan.FromMilliseconds(request.TimeoutMs ?? 0), cancellationToken).ConfigureAwait(false);
                break;
            case Reboot:
                await driver.RebootInstanceAsync(id, request.RebootKind ?? RebootKind.Soft, cancellationToken).ConfigureAwait(false);
                break;
            case Pause:
                await driver.PauseInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case Unpause:
                await driver.UnpauseInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case Suspend:
                await driver.SuspendInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case Resume:
                await driver.ResumeInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case Delete:
                await driver.DeleteInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case AttachVolume:
                return await driver.AttachVolumeAsync(id, request.Volume!, cancellationToken).ConfigureAwait(false);
            case DetachVolume:
                await driver.DetachVolumeAsync(id, request.VolumeId!, cancellationToken).ConfigureAwait(false);
                break;
            case AttachInterface:
                return await driver.AttachInterfaceAsync(id, request.Interface!, cancellationToken).ConfigureAwait(false);
            case DetachInterface:
                await driver.DetachInterfaceAsync(id, request.MacAddress!, cancellationToken).ConfigureAwait(false);
                break;
            case PowerOff:
                await driver.PowerOffInstanceAsync(id, cancellationToken).ConfigureAwait(false);
                break;
            case CreateSnapshot:
                return await driver.CreateSnapshotAsync(id, request.SnapshotName!, cancellationToken).ConfigureAwait(false);
            case DeleteSnapshot:
                await driver.DeleteSnapshotAsync(id, request.SnapshotId!, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new InvalidOperationException($"Unknown operation kind '{operation.Kind}'.");
        }

        return null;
    }

    /// <summary>
    /// After a crash: whether the interrupted operation already took effect on the hypervisor, with its result.
    /// Null means "not visibly done": the agent drives it again (every kind is safe to repeat once not done).
    /// </summary>
    public static async Task<(bool Done, object? Result)> CheckDoneAsync(IHypervisorDriver driver, StoredOperation operation, CancellationToken cancellationToken)
    {
        var id = operation.InstanceId;
        InstanceInfo? instance;
        try
        {
            instance = await driver.GetInstanceAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (InstanceNotFoundException)
        {
            instance = null;
        }

        switch (operation.Kind)
        {
            case Delete:
                return (instance is null, null);
            case Create:
                // A create is repeated rather than assumed: the driver's create is idempotent on the id and returns
                // the existing instance when the spec matches, or refuses a different one.
                return (false, null);
            case CreateSnapshot or DeleteSnapshot when instance is not null:
                var snapshots = await driver.ListSnapshotsAsync(id, cancellationToken).ConfigureAwait(false);
                return operation.Kind == CreateSnapshot
                    ? snapshots.FirstOrDefault(snapshot => snapshot.Name == operation.Request.SnapshotName) is { } taken ? (true, taken) : (false, null)
                    : (snapshots.All(snapshot => snapshot.SnapshotId != operation.Request.SnapshotId), null);
            case AttachVolume or DetachVolume or AttachInterface or DetachInterface when instance is not null && driver.Capabilities.SupportsDeviceListing:
                var devices = await driver.GetDevicesAsync(id, cancellationToken).ConfigureAwait(false);
                return operation.Kind switch
                {
                    AttachVolume => devices.Volumes.FirstOrDefault(v => v.VolumeId == operation.Request.Volume!.VolumeId) is { } attached ? (true, attached) : (false, null),
                    DetachVolume => (devices.Volumes.All(v => v.VolumeId != operation.Request.VolumeId), null),
                    AttachInterface => operation.Request.Interface!.MacAddress is { } mac
                        && devices.NetworkInterfaces.FirstOrDefault(n => string.Equals(n.MacAddress, mac, StringComparison.OrdinalIgnoreCase)) is { } nic ? (true, nic) : (false, null),
                    _ => (devices.NetworkInterfaces.All(n => !string.Equals(n.MacAddress, operation.Request.MacAddress, StringComparison.OrdinalIgnoreCase)), null),
                };
            default:
                if (instance is null)
                {
                    return (false, null);
                }

                var target = PowerStateRules.ResultOf(ContractOperation(operation.Kind, operation.Request));
                return (target is not null && instance.PowerState == target, null);
        }
    }

    /// <summary>The event an agent-side completion reports, for drivers without their own event stream.</summary>
    public static (InstanceEventKind Kind, PowerState State)? EventAfter(StoredOperation operation, object? result)
    {
        if (operation.Kind == Create && result is InstanceInfo created)
        {
            return (InstanceEventKind.Created, created.PowerState);
        }

        if (operation.Kind == Delete)
        {
            return (InstanceEventKind.Deleted, PowerState.NoState);
        }

        if (PowerActions.Contains(operation.Kind) && PowerStateRules.ResultOf(ContractOperation(operation.Kind, operation.Request)) is { } state)
        {
            return (operation.Kind switch
            {
                Unpause => InstanceEventKind.Resumed,
                _ => Events.EventLog.EventFor(state),
            }, state);
        }

        return null;
    }
}
