namespace Hypervisors;

/// <summary>
/// A driver that forwards every call to an inner driver; the base for decorators (logging, tracing,
/// retries). Override only the calls to intercept.
/// </summary>
public abstract class DelegatingHypervisorDriver(IHypervisorDriver innerDriver) : IHypervisorDriver
{
    /// <summary>The driver calls are forwarded to.</summary>
    protected IHypervisorDriver InnerDriver { get; } = innerDriver ?? throw new ArgumentNullException(nameof(innerDriver));

    /// <inheritdoc />
    public virtual DriverCapabilities Capabilities => InnerDriver.Capabilities;

    /// <inheritdoc />
    public virtual Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) => InnerDriver.GetHostInfoAsync(cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) => InnerDriver.ListInstancesAsync(cancellationToken);

    /// <inheritdoc />
    public virtual Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.GetInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) => InnerDriver.CreateInstanceAsync(spec, cancellationToken);

    /// <inheritdoc />
    public virtual Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.StartInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default) => InnerDriver.StopInstanceAsync(instanceId, gracefulTimeout, cancellationToken);

    /// <inheritdoc />
    public virtual Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.PowerOffInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default) => InnerDriver.RebootInstanceAsync(instanceId, kind, cancellationToken);

    /// <inheritdoc />
    public virtual Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.PauseInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.UnpauseInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.SuspendInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.ResumeInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.GetConsoleOutputAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.GetDevicesAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default) => InnerDriver.AttachVolumeAsync(instanceId, volume, cancellationToken);

    /// <inheritdoc />
    public virtual Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default) => InnerDriver.DetachVolumeAsync(instanceId, volumeId, cancellationToken);

    /// <inheritdoc />
    public virtual Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default) => InnerDriver.AttachInterfaceAsync(instanceId, networkInterface, cancellationToken);

    /// <inheritdoc />
    public virtual Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default) => InnerDriver.DetachInterfaceAsync(instanceId, macAddress, cancellationToken);

    /// <inheritdoc />
    public virtual Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default) => InnerDriver.CreateSnapshotAsync(instanceId, name, cancellationToken);

    /// <inheritdoc />
    public virtual Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken);

    /// <inheritdoc />
    public virtual Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default) => InnerDriver.DeleteSnapshotAsync(instanceId, snapshotId, cancellationToken);

    /// <inheritdoc />
    public virtual IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) => InnerDriver.WatchEventsAsync(cancellationToken);

    /// <inheritdoc />
    public virtual object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : InnerDriver.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public virtual async ValueTask DisposeAsync()
    {
        await InnerDriver.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Typed access to <see cref="IHypervisorDriver.GetService"/>.</summary>
public static class HypervisorDriverExtensions
{
    /// <summary>Returns the driver's service of type <typeparamref name="TService"/>, or null.</summary>
    public static TService? GetService<TService>(this IHypervisorDriver driver, object? serviceKey = null)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(driver);
        return driver.GetService(typeof(TService), serviceKey) as TService;
    }
}
