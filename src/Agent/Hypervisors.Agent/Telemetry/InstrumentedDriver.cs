using System.Diagnostics;

namespace Hypervisors.Agent.Telemetry;

/// <summary>
/// Wraps a driver so that every call counts in the metrics, is timed, and runs inside an activity that is a child
/// of the API request's activity (or of the operation's, for calls made in the background).
/// </summary>
internal sealed class InstrumentedDriver(string name, IHypervisorDriver inner, AgentMetrics metrics, ILogger logger) : DelegatingHypervisorDriver(inner)
{
    public override Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.GetHostInfo, null, () => InnerDriver.GetHostInfoAsync(cancellationToken));

    public override Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.ListInstances, null, () => InnerDriver.ListInstancesAsync(cancellationToken));

    public override Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.GetInstance, instanceId, () => InnerDriver.GetInstanceAsync(instanceId, cancellationToken));

    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Create, spec?.Id, () => InnerDriver.CreateInstanceAsync(spec!, cancellationToken));

    public override Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Start, instanceId, () => Done(InnerDriver.StartInstanceAsync(instanceId, cancellationToken)));

    public override Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Stop, instanceId, () => Done(InnerDriver.StopInstanceAsync(instanceId, gracefulTimeout, cancellationToken)));

    public override Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.PowerOff, instanceId, () => Done(InnerDriver.PowerOffInstanceAsync(instanceId, cancellationToken)));

    public override Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default) =>
        MeasureAsync(kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot, instanceId,
            () => Done(InnerDriver.RebootInstanceAsync(instanceId, kind, cancellationToken)));

    public override Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Pause, instanceId, () => Done(InnerDriver.PauseInstanceAsync(instanceId, cancellationToken)));

    public override Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Unpause, instanceId, () => Done(InnerDriver.UnpauseInstanceAsync(instanceId, cancellationToken)));

    public override Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Suspend, instanceId, () => Done(InnerDriver.SuspendInstanceAsync(instanceId, cancellationToken)));

    public override Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Resume, instanceId, () => Done(InnerDriver.ResumeInstanceAsync(instanceId, cancellationToken)));

    public override Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.Delete, instanceId, () => Done(InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken)));

    public override Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.GetConsoleOutput, instanceId, () => InnerDriver.GetConsoleOutputAsync(instanceId, cancellationToken));

    public override Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.GetDevices, instanceId, () => InnerDriver.GetDevicesAsync(instanceId, cancellationToken));

    public override Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.AttachVolume, instanceId, () => InnerDriver.AttachVolumeAsync(instanceId, volume, cancellationToken));

    public override Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.DetachVolume, instanceId, () => Done(InnerDriver.DetachVolumeAsync(instanceId, volumeId, cancellationToken)));

    public override Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.AttachInterface, instanceId, () => InnerDriver.AttachInterfaceAsync(instanceId, networkInterface, cancellationToken));

    public override Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.DetachInterface, instanceId, () => Done(InnerDriver.DetachInterfaceAsync(instanceId, macAddress, cancellationToken)));

    public override Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.CreateSnapshot, instanceId, () => InnerDriver.CreateSnapshotAsync(instanceId, name, cancellationToken));

    public override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.ListSnapshots, instanceId, () => InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken));

    public override Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default) =>
        MeasureAsync(InstanceOperation.DeleteSnapshot, instanceId, () => Done(InnerDriver.DeleteSnapshotAsync(instanceId, snapshotId, cancellationToken)));

    private static async Task<bool> Done(Task call)
    {
        await call.ConfigureAwait(false);
        return true;
    }

    private async Task<T> MeasureAsync<T>(InstanceOperation operation, Guid? instanceId, Func<Task<T>> call)
    {
        var operationName = operation.ToString();
        using var activity = AgentTelemetry.Source.StartActivity("driver " + operationName, ActivityKind.Client);
        if (activity is not null)
        {
            activity.SetTag("hypervisors.driver", name);
            activity.SetTag("hypervisors.operation", operationName);
            if (instanceId is { } id)
            {
                activity.SetTag("hypervisors.instance_id", id.ToString());
            }
        }

        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (HypervisorException exception)
        {
            outcome = exception.Kind.ToString();
            activity?.SetStatus(ActivityStatusCode.Error, exception.Kind.ToString());
            Log.DriverCallFailed(logger, name, operationName, exception.Kind);
            throw;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            outcome = "exception";
            activity?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
            throw;
        }
        finally
        {
            metrics.DriverCalls.WithLabels(name, operationName, outcome).Inc();
            metrics.DriverCallDuration.WithLabels(name, operationName).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }
}
