namespace Hypervisors;

/// <summary>
/// The operation needs the guest's cooperation and the hypervisor reports that the guest cannot give it (no guest
/// agent, PV drivers or integration services, or the guest declines the feature). The driver refused the request
/// and changed nothing: the instance keeps its power state and devices. The hard variant of the operation (hard
/// reboot, power-off) does not need the guest; the same call may succeed once the guest has the feature.
/// </summary>
public sealed class GuestFeatureUnavailableException : HypervisorException
{
    /// <summary>Creates the error for <paramref name="operation"/> on <paramref name="instanceId"/>.</summary>
    public GuestFeatureUnavailableException(Guid instanceId, InstanceOperation operation, string detail, Exception? innerException = null)
        : base(HypervisorErrorKind.GuestFeatureUnavailable, $"Cannot {operation} instance {instanceId}: {detail}", innerException)
    {
        RefusedOperation = operation;
        Operation = operation;
        InstanceId = instanceId;
    }

    /// <summary>The operation that was refused (the same as <see cref="HypervisorException.Operation"/>).</summary>
    public InstanceOperation RefusedOperation { get; }
}
