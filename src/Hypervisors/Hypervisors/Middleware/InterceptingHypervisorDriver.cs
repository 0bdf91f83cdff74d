namespace Hypervisors;

/// <summary>
/// A <see cref="DelegatingHypervisorDriver"/> that routes every request/response call through one method,
/// <see cref="InterceptAsync{T}"/>: the base for cross-cutting decorators such as logging and telemetry.
/// <see cref="IHypervisorDriver.WatchEventsAsync"/> is forwarded unchanged; override it to observe events.
/// </summary>
public abstract class InterceptingHypervisorDriver(IHypervisorDriver innerDriver) : DelegatingHypervisorDriver(innerDriver)
{
    /// <summary>Runs <paramref name="call"/> (the inner driver's call) for <paramref name="operation"/>.</summary>
    /// <param name="operation">The contract operation.</param>
    /// <param name="instanceId">The instance concerned, or null for host-level calls.</param>
    /// <param name="call">Calls the inner driver.</param>
    /// <param name="cancellationToken">The caller's token, to pass to <paramref name="call"/>.</param>
    protected abstract Task<T> InterceptAsync<T>(InstanceOperation operation, Guid? instanceId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken);

    /// <inheritdoc />
    public override Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.GetHostInfo, null, InnerDriver.GetHostInfoAsync, cancellationToken);

    /// <inheritdoc />
    public override Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.ListInstances, null, InnerDriver.ListInstancesAsync, cancellationToken);

    /// <inheritdoc />
    public override Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.GetInstance, instanceId, ct => InnerDriver.GetInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.Create, spec?.Id, ct => InnerDriver.CreateInstanceAsync(spec!, ct), cancellationToken);

    /// <inheritdoc />
    public override Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Start, instanceId, ct => InnerDriver.StartInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Stop, instanceId, ct => InnerDriver.StopInstanceAsync(instanceId, gracefulTimeout, ct), cancellationToken);

    /// <inheritdoc />
    public override Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.PowerOff, instanceId, ct => InnerDriver.PowerOffInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot, instanceId,
            ct => InnerDriver.RebootInstanceAsync(instanceId, kind, ct), cancellationToken);

    /// <inheritdoc />
    public override Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Pause, instanceId, ct => InnerDriver.PauseInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Unpause, instanceId, ct => InnerDriver.UnpauseInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Suspend, instanceId, ct => InnerDriver.SuspendInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Resume, instanceId, ct => InnerDriver.ResumeInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.Delete, instanceId, ct => InnerDriver.DeleteInstanceAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.GetConsoleOutput, instanceId, ct => InnerDriver.GetConsoleOutputAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.GetDevices, instanceId, ct => InnerDriver.GetDevicesAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.AttachVolume, instanceId, ct => InnerDriver.AttachVolumeAsync(instanceId, volume, ct), cancellationToken);

    /// <inheritdoc />
    public override Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.DetachVolume, instanceId, ct => InnerDriver.DetachVolumeAsync(instanceId, volumeId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.AttachInterface, instanceId, ct => InnerDriver.AttachInterfaceAsync(instanceId, networkInterface, ct), cancellationToken);

    /// <inheritdoc />
    public override Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.DetachInterface, instanceId, ct => InnerDriver.DetachInterfaceAsync(instanceId, macAddress, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.CreateSnapshot, instanceId, ct => InnerDriver.CreateSnapshotAsync(instanceId, name, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InterceptAsync(InstanceOperation.ListSnapshots, instanceId, ct => InnerDriver.ListSnapshotsAsync(instanceId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default) =>
        InterceptVoidAsync(InstanceOperation.DeleteSnapshot, instanceId, ct => InnerDriver.DeleteSnapshotAsync(instanceId, snapshotId, ct), cancellationToken);

    /// <summary>The error kind to report for <paramref name="exception"/>: the <see cref="HypervisorErrorKind"/>, "Canceled", or the exception type.</summary>
    protected static string ErrorKindOf(Exception exception) => exception switch
    {
        HypervisorException hypervisor => hypervisor.Kind.ToString(),
        OperationCanceledException => "Canceled",
        _ => (exception ?? throw new ArgumentNullException(nameof(exception))).GetType().FullName ?? exception.GetType().Name,
    };

    private Task InterceptVoidAsync(InstanceOperation operation, Guid? instanceId, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        InterceptAsync(operation, instanceId, async ct =>
        {
            await call(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
}
