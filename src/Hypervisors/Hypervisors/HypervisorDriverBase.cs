using System.Runtime.CompilerServices;

namespace Hypervisors;

/// <summary>
/// A base for drivers. Its public methods validate arguments and specs, refuse operations the driver's
/// <see cref="DriverCapabilities"/> do not declare (with <see cref="OperationNotSupportedException"/>), and
/// refuse calls after disposal or with an already-cancelled token; then they call the protected <c>*CoreAsync</c> method. Optional operations
/// default to throwing <see cref="OperationNotSupportedException"/>, so a driver overrides only what it does.
/// </summary>
public abstract class HypervisorDriverBase : IHypervisorDriver
{
    private int _disposed;

    /// <summary>Creates the base with the clock used for graceful-stop timeouts.</summary>
    /// <remarks>
    /// A driver built this way passes its disk, kernel and volume references to a remote host that resolves them
    /// (datastore paths, VDIs, paths on a Hyper-V host); drivers that hand paths of this machine to the hypervisor
    /// use the constructor taking a <see cref="HostPathPolicy"/>.
    /// </remarks>
    protected HypervisorDriverBase(TimeProvider? timeProvider = null) => TimeProvider = timeProvider ?? TimeProvider.System;

    /// <summary>
    /// Creates the base for a driver whose image references, kernel and initrd paths and volume sources are files of
    /// this machine: every such path must lie inside one of <paramref name="hostPaths"/>' directories (none when null).
    /// </summary>
    protected HypervisorDriverBase(TimeProvider? timeProvider, HostPathPolicy? hostPaths)
        : this(timeProvider) => HostFilePolicy = hostPaths ?? new HostPathPolicy([]);

    /// <inheritdoc />
    public abstract DriverCapabilities Capabilities { get; }

    /// <summary>The clock for timeouts and event timestamps.</summary>
    protected TimeProvider TimeProvider { get; }

    /// <summary>How often the default graceful stop polls the power state.</summary>
    protected virtual TimeSpan ShutdownPollInterval => TimeSpan.FromMilliseconds(200);

    /// <summary>The host directories this driver may use, or null when its references are resolved by a remote host.</summary>
    protected HostPathPolicy? HostFilePolicy { get; }

    /// <summary>Whether <see cref="DisposeAsync"/> has begun.</summary>
    protected bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc />
    public Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        return Guard(new OperationContext(InstanceOperation.GetHostInfo, null), () => GetHostInfoCoreAsync(cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        return Guard(new OperationContext(InstanceOperation.ListInstances, null), () => ListInstancesCoreAsync(cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.GetInstance, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.GetInstance, instanceId), () => GetInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        InstanceSpecValidator.Validate(spec);
        cancellationToken.ThrowIfCancellationRequested();
        if (spec.KernelBoot is not null && !Capabilities.SupportsKernelBoot)
        {
            throw new OperationNotSupportedException(Capabilities.HypervisorType, InstanceOperation.Create, "direct kernel boot is not supported.");
        }

        if (!Capabilities.SupportsImageDisks && spec.Disks.Any(d => d.ImageRef is not null))
        {
            throw new OperationNotSupportedException(Capabilities.HypervisorType, InstanceOperation.Create, "disks from an image are not supported.");
        }

        HostFilePolicy?.Check(spec);
        return Guard(new OperationContext(InstanceOperation.Create, spec.Id), () => CreateInstanceCoreAsync(spec, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Start, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Start, instanceId), () => StartInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Stop, instanceId, cancellationToken);
        if (gracefulTimeout < TimeSpan.Zero || gracefulTimeout > TimeSpan.FromHours(1))
        {
            throw new InvalidSpecException(nameof(gracefulTimeout), $"must be between 0 and 1 hour, was {gracefulTimeout}.");
        }

        return Guard(new OperationContext(InstanceOperation.Stop, instanceId), () => StopInstanceCoreAsync(instanceId, gracefulTimeout, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.PowerOff, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.PowerOff, instanceId), () => PowerOffInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new InvalidSpecException(nameof(kind), $"'{kind}' is not a reboot kind.");
        }

        var operation = kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot;
        Check(operation, instanceId, cancellationToken);
        return Guard(new OperationContext(operation, instanceId), () => RebootInstanceCoreAsync(instanceId, kind, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Pause, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Pause, instanceId), () => PauseInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Unpause, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Unpause, instanceId), () => UnpauseInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Suspend, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Suspend, instanceId), () => SuspendInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Resume, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Resume, instanceId), () => ResumeInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.Delete, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.Delete, instanceId), () => DeleteInstanceCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.GetConsoleOutput, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.GetConsoleOutput, instanceId), () => GetConsoleOutputCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.GetDevices, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.GetDevices, instanceId), () => GetDevicesCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.AttachVolume, instanceId, cancellationToken);
        InstanceSpecValidator.ValidateVolume(volume);
        HostFilePolicy?.CheckReference(volume.Source, "volume.Source");
        return Guard(new OperationContext(InstanceOperation.AttachVolume, instanceId, "volume", volume.VolumeId), () => AttachVolumeCoreAsync(instanceId, volume, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.DetachVolume, instanceId, cancellationToken);
        InstanceSpecValidator.ValidateDeviceId(volumeId, nameof(volumeId));
        return Guard(new OperationContext(InstanceOperation.DetachVolume, instanceId, "volume", volumeId), () => DetachVolumeCoreAsync(instanceId, volumeId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.AttachInterface, instanceId, cancellationToken);
        InstanceSpecValidator.ValidateInterface(networkInterface);
        return Guard(new OperationContext(InstanceOperation.AttachInterface, instanceId, "interface", networkInterface.MacAddress), () => AttachInterfaceCoreAsync(instanceId, networkInterface, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.DetachInterface, instanceId, cancellationToken);
        var mac = InstanceSpecValidator.NormalizeMac(macAddress);
        return Guard(new OperationContext(InstanceOperation.DetachInterface, instanceId, "interface", mac), () => DetachInterfaceCoreAsync(instanceId, mac, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.CreateSnapshot, instanceId, cancellationToken);
        InstanceSpecValidator.ValidateName(name, nameof(name));
        return Guard(new OperationContext(InstanceOperation.CreateSnapshot, instanceId), () => CreateSnapshotCoreAsync(instanceId, name, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.ListSnapshots, instanceId, cancellationToken);
        return Guard(new OperationContext(InstanceOperation.ListSnapshots, instanceId), () => ListSnapshotsCoreAsync(instanceId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default)
    {
        Check(InstanceOperation.DeleteSnapshot, instanceId, cancellationToken);
        InstanceSpecValidator.ValidateDeviceId(snapshotId, nameof(snapshotId));
        return Guard(new OperationContext(InstanceOperation.DeleteSnapshot, instanceId, "snapshot", snapshotId), () => DeleteSnapshotCoreAsync(instanceId, snapshotId, cancellationToken), cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        EnsureSupported(InstanceOperation.WatchEvents);
        var context = new OperationContext(InstanceOperation.WatchEvents, null);
        IAsyncEnumerable<InstanceEvent> stream;
        try
        {
            stream = WatchEventsCoreAsync(cancellationToken);
        }
        catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
        {
            throw mapped;
        }

        return TranslateEventsAsync(stream, context, cancellationToken);
    }

    /// <inheritdoc />
    public virtual object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(HostPathPolicy))
        {
            return HostFilePolicy;
        }

        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await DisposeAsyncCore().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the driver's resources; called once.</summary>
    protected virtual ValueTask DisposeAsyncCore() => ValueTask.CompletedTask;

    /// <summary>Reads host information.</summary>
    protected abstract Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken);

    /// <summary>Lists instances in one call to the hypervisor.</summary>
    protected abstract Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken);

    /// <summary>Reads one instance or throws <see cref="InstanceNotFoundException"/>.</summary>
    protected abstract Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken);

    /// <summary>Creates an instance from a validated spec, idempotently.</summary>
    protected abstract Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken);

    /// <summary>Starts an instance.</summary>
    protected abstract Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken);

    /// <summary>Powers an instance off at once.</summary>
    protected abstract Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken);

    /// <summary>Reboots an instance (the capability check for soft reboot has been made).</summary>
    protected abstract Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken);

    /// <summary>Deletes an instance and the disks created for it.</summary>
    protected abstract Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken);

    /// <summary>
    /// Asks the guest to shut down, without waiting. Used by the default <see cref="StopInstanceCoreAsync"/>;
    /// the default implementation does nothing, so the stop falls through to a hard power off after the timeout.
    /// </summary>
    protected virtual Task RequestShutdownCoreAsync(Guid instanceId, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Graceful stop: checks the state, calls <see cref="RequestShutdownCoreAsync"/>, polls until the instance is
    /// <see cref="PowerState.Shutdown"/> or the timeout passes, then calls <see cref="PowerOffInstanceCoreAsync"/>.
    /// </summary>
    protected virtual async Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        var info = await GetInstanceCoreAsync(instanceId, cancellationToken).ConfigureAwait(false);
        PowerStateRules.EnsureAllowed(InstanceOperation.Stop, instanceId, info.PowerState);
        if (gracefulTimeout > TimeSpan.Zero && info.PowerState == PowerState.Running)
        {
            await RequestShutdownCoreAsync(instanceId, cancellationToken).ConfigureAwait(false);
            var deadline = TimeProvider.GetTimestamp() + (long)(gracefulTimeout.TotalSeconds * TimeProvider.TimestampFrequency);
            while (TimeProvider.GetTimestamp() < deadline)
            {
                info = await GetInstanceCoreAsync(instanceId, cancellationToken).ConfigureAwait(false);
                if (info.PowerState == PowerState.Shutdown)
                {
                    return;
                }

                var remaining = TimeProvider.GetElapsedTime(TimeProvider.GetTimestamp(), deadline);
                if (remaining <= TimeSpan.Zero)
                {
                    // The state read itself outlasted the timeout.
                    break;
                }

                await Task.Delay(remaining < ShutdownPollInterval ? remaining : ShutdownPollInterval, TimeProvider, cancellationToken).ConfigureAwait(false);
            }

            info = await GetInstanceCoreAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (info.PowerState == PowerState.Shutdown)
            {
                return;
            }
        }

        try
        {
            await PowerOffInstanceCoreAsync(instanceId, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidPowerStateException ex) when (ex.CurrentState == PowerState.Shutdown)
        {
            // The guest finished shutting down between the last poll and the power off.
        }
    }

    /// <summary>Pauses; override when <see cref="DriverCapabilities.SupportsPause"/>.</summary>
    protected virtual Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.Pause);

    /// <summary>Unpauses; override when <see cref="DriverCapabilities.SupportsPause"/>.</summary>
    protected virtual Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.Unpause);

    /// <summary>Suspends; override when <see cref="DriverCapabilities.SupportsSuspend"/>.</summary>
    protected virtual Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.Suspend);

    /// <summary>Resumes; override when <see cref="DriverCapabilities.SupportsSuspend"/>.</summary>
    protected virtual Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.Resume);

    /// <summary>Reads the console; override when <see cref="DriverCapabilities.SupportsConsoleOutput"/>.</summary>
    protected virtual Task<ConsoleOutput> GetConsoleOutputCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.GetConsoleOutput);

    /// <summary>Lists devices; override when <see cref="DriverCapabilities.SupportsDeviceListing"/>.</summary>
    protected virtual Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.GetDevices);

    /// <summary>Attaches a volume; override when <see cref="DriverCapabilities.SupportsVolumeAttach"/>.</summary>
    protected virtual Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.AttachVolume);

    /// <summary>Detaches a volume; override when <see cref="DriverCapabilities.SupportsVolumeAttach"/>.</summary>
    protected virtual Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.DetachVolume);

    /// <summary>Attaches an interface; override when <see cref="DriverCapabilities.SupportsInterfaceAttach"/>.</summary>
    protected virtual Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.AttachInterface);

    /// <summary>Detaches an interface by normalized MAC; override when <see cref="DriverCapabilities.SupportsInterfaceAttach"/>.</summary>
    protected virtual Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.DetachInterface);

    /// <summary>Creates a snapshot; override when <see cref="DriverCapabilities.SupportsSnapshots"/>.</summary>
    protected virtual Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.CreateSnapshot);

    /// <summary>Lists snapshots; override when <see cref="DriverCapabilities.SupportsSnapshots"/>.</summary>
    protected virtual Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.ListSnapshots);

    /// <summary>Deletes a snapshot; override when <see cref="DriverCapabilities.SupportsSnapshots"/>.</summary>
    protected virtual Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.DeleteSnapshot);

    /// <summary>Streams events; override when <see cref="DriverCapabilities.SupportsEvents"/>.</summary>
    protected virtual IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken) => throw NotSupported(InstanceOperation.WatchEvents);

    /// <summary>
    /// The driver's one place that turns its native failures (wire exceptions, native error codes) into the contract's
    /// <see cref="HypervisorException"/> types. Every exception a <c>*CoreAsync</c> method (or an event stream) throws
    /// passes through here, except contract errors, which pass unchanged, and cancellation. Return
    /// <paramref name="exception"/> itself to let it through unchanged (the default). Whatever contract error leaves
    /// the driver then carries <see cref="OperationContext.Operation"/> and <see cref="OperationContext.InstanceId"/>
    /// in <see cref="HypervisorException.Operation"/> and <see cref="HypervisorException.InstanceId"/>.
    /// </summary>
    /// <param name="exception">What the driver's code threw.</param>
    /// <param name="context">The operation, its instance and the device it named.</param>
    protected virtual Exception MapException(Exception exception, OperationContext context) => exception;

    /// <summary>The typed not-supported error for <paramref name="operation"/>.</summary>
    protected OperationNotSupportedException NotSupported(InstanceOperation operation, string? detail = null) =>
        new(Capabilities.HypervisorType, operation, detail);

    /// <summary>Throws <see cref="ObjectDisposedException"/> once disposal has begun.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    private Task<T> Guard<T>(OperationContext context, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        Task<T> task;
        try
        {
            task = call();
        }
        catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
        {
            throw mapped;
        }

        return task.IsCompletedSuccessfully ? task : AwaitGuardedAsync(task, context, cancellationToken);
    }

    private Task Guard(OperationContext context, Func<Task> call, CancellationToken cancellationToken)
    {
        Task task;
        try
        {
            task = call();
        }
        catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
        {
            throw mapped;
        }

        return task.IsCompletedSuccessfully ? task : AwaitGuardedAsync(task, context, cancellationToken);
    }

    private async Task<T> AwaitGuardedAsync<T>(Task<T> task, OperationContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
        {
            throw mapped;
        }
    }

    private async Task AwaitGuardedAsync(Task task, OperationContext context, CancellationToken cancellationToken)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
        {
            throw mapped;
        }
    }

    private async IAsyncEnumerable<InstanceEvent> TranslateEventsAsync(IAsyncEnumerable<InstanceEvent> stream, OperationContext context,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var enumerator = stream.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (Translate(ex, context, cancellationToken) is var mapped && !ReferenceEquals(mapped, ex))
                {
                    throw mapped;
                }

                if (!more)
                {
                    break;
                }

                yield return enumerator.Current;
            }
        }
    }

    /// <summary>
    /// Maps <paramref name="exception"/> through <see cref="MapException"/> (unless it is already a contract error or
    /// a cancellation) and stamps the call's operation and instance on the contract error. Returns the exception to
    /// throw; the same object means "rethrow as is". Runs inside exception filters, so it must not throw.
    /// </summary>
    private Exception Translate(Exception exception, OperationContext context, CancellationToken cancellationToken)
    {
        var result = exception;
        var passThrough = exception is HypervisorException
            || (exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
            || (exception is ObjectDisposedException && IsDisposed);
        if (!passThrough)
        {
            try
            {
                result = MapException(exception, context);
            }
            catch (Exception mappingFailure)
            {
                result = new HypervisorException($"{context.Operation} failed ({exception.Message}), and mapping the failure failed: {mappingFailure.Message}", exception);
            }
        }

        (result as HypervisorException)?.AddCallContext(context.Operation, context.InstanceId);
        return result;
    }

    private void Check(InstanceOperation operation, Guid instanceId, CancellationToken cancellationToken, [CallerArgumentExpression(nameof(instanceId))] string? field = null)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        InstanceSpecValidator.ValidateInstanceId(instanceId, field ?? "instanceId");
        EnsureSupported(operation);
    }

    private void EnsureSupported(InstanceOperation operation)
    {
        if (!Capabilities.Supports(operation))
        {
            throw NotSupported(operation);
        }
    }
}
