using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Hypervisors.Fake.Tests.Teeth;

// Deliberately broken drivers around unknown ids, events, crashes, cancellation, full hosts, consoles and disposal.

/// <summary>Listing the snapshots of an unknown instance returns an empty list.</summary>
internal sealed class SnapshotsOfUnknownInstanceEmpty(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.ListSnapshotsAsync(instanceId, cancellationToken);
        }
        catch (InstanceNotFoundException)
        {
            return [];
        }
    }
}

/// <summary>Detaching a volume from an unknown instance reports the volume missing instead of the instance.</summary>
internal sealed class DetachFromUnknownInstanceAsDeviceNotFound(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.DetachVolumeAsync(instanceId, volumeId, cancellationToken);
        }
        catch (InstanceNotFoundException)
        {
            throw new DeviceNotFoundException(instanceId, "volume", volumeId);
        }
    }
}

/// <summary>Device listing of an unknown instance throws InstanceNotFoundException without the id (looked up by native handle).</summary>
internal sealed class NotFoundLosesTheId(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.GetDevicesAsync(instanceId, cancellationToken);
        }
        catch (InstanceNotFoundException ex)
        {
            throw new InstanceNotFoundException(Guid.Empty, ex);
        }
    }
}

/// <summary>Taking a snapshot of an unknown instance fails with a generic error.</summary>
internal sealed class SnapshotOfUnknownInstanceGeneric(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.CreateSnapshotAsync(instanceId, name, cancellationToken);
        }
        catch (InstanceNotFoundException ex)
        {
            throw new HypervisorException("snapshot failed: no such domain", ex);
        }
    }
}

/// <summary>Power operations on an unknown id report an invalid power state (the state read for a missing instance is NoState).</summary>
internal sealed class UnknownIdAsInvalidPowerState(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.PauseInstanceAsync(instanceId, cancellationToken);
        }
        catch (InstanceNotFoundException)
        {
            throw new InvalidPowerStateException(instanceId, InstanceOperation.Pause, PowerState.NoState);
        }
    }
}

/// <summary>Refusals report the state the operation expected instead of the one the instance is in.</summary>
internal sealed class RefusalReportsWrongState(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.ResumeInstanceAsync(instanceId, cancellationToken);
        }
        catch (InvalidPowerStateException ex)
        {
            throw new InvalidPowerStateException(instanceId, ex.RefusedOperation, PowerState.Suspended);
        }
    }
}

/// <summary>Powering off a paused instance is refused (the driver allows it only from Running).</summary>
internal sealed class PowerOffFromPausedRefused(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        if (info.PowerState == PowerState.Paused)
        {
            throw new InvalidPowerStateException(instanceId, InstanceOperation.PowerOff, PowerState.Paused);
        }

        await InnerDriver.PowerOffInstanceAsync(instanceId, cancellationToken);
    }
}

/// <summary>Reboot events are dropped because the driver publishes only changes of state, and a reboot stays Running.</summary>
internal sealed class RebootEventsDroppedAsNoChange(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, int> _rebooting = new();

    public override async Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default)
    {
        var wasRunning = (await InnerDriver.GetInstanceAsync(instanceId, cancellationToken)).PowerState == PowerState.Running;
        if (wasRunning)
        {
            _rebooting.AddOrUpdate(instanceId, 1, (_, n) => n + 1);
        }

        await InnerDriver.RebootInstanceAsync(instanceId, kind, cancellationToken);
    }

    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        e.Kind == InstanceEventKind.Started && _rebooting.TryGetValue(e.InstanceId, out var n) && n > 0 && _rebooting.TryUpdate(e.InstanceId, n - 1, n) ? [] : [e];
}

/// <summary>Resuming a suspended instance is reported as Resumed (the kind for continuing after a pause).</summary>
internal sealed class ResumeReportedAsResumed(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        [before == PowerState.Suspended && e.PowerState == PowerState.Running ? e with { Kind = InstanceEventKind.Resumed } : e];
}

/// <summary>Unpausing is reported as Started.</summary>
internal sealed class UnpauseReportedAsStarted(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        [e.Kind == InstanceEventKind.Resumed ? e with { Kind = InstanceEventKind.Started } : e];
}

/// <summary>Suspending is reported with the Paused kind (the hypervisor's "suspended" means paused).</summary>
internal sealed class SuspendReportedAsPaused(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        [e.Kind == InstanceEventKind.Suspended ? e with { Kind = InstanceEventKind.Paused } : e];
}

/// <summary>Stop events carry the state the instance left instead of the one it reached.</summary>
internal sealed class StopEventsCarryOldState(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        [e.Kind == InstanceEventKind.Stopped && before is { } old ? e with { PowerState = old } : e];
}

/// <summary>No event is published when an instance is deleted.</summary>
internal sealed class DeleteEventsMissing(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        e.Kind == InstanceEventKind.Deleted ? [] : [e];
}

/// <summary>Crashes are not published (the driver maps only the stop reasons it knows).</summary>
internal sealed class CrashEventsMissing(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) =>
        e.Kind == InstanceEventKind.Crashed ? [] : [e];
}

/// <summary>Every event is published twice (once from the operation, once from the hypervisor's own notification).</summary>
internal sealed class EventsPublishedTwice(IHypervisorDriver inner) : EventRewritingDriver(inner)
{
    protected override IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before) => [e, e];
}

/// <summary>All watches read one shared queue, so each event goes to only one of them.</summary>
internal sealed class WatchersCompeteForEvents(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly Channel<InstanceEvent> _shared = Channel.CreateUnbounded<InstanceEvent>();
    private readonly CancellationTokenSource _stop = new();
    private Task? _pump;

    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default)
    {
        lock (_shared)
        {
            if (_pump is null)
            {
                var source = InnerDriver.WatchEventsAsync(_stop.Token);
                _pump = Task.Run(async () =>
                {
                    try
                    {
                        await foreach (var e in source)
                        {
                            await _shared.Writer.WriteAsync(e);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopped on dispose.
                    }
                });
            }
        }

        return _shared.Reader.ReadAllAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>Get and list report a crashed instance as shut down.</summary>
internal sealed class CrashedReportedAsShutdown(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Fix(await InnerDriver.GetInstanceAsync(instanceId, cancellationToken));

    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListInstancesAsync(cancellationToken)).Select(Fix)];

    private static InstanceInfo Fix(InstanceInfo info) => info.PowerState == PowerState.Crashed ? info with { PowerState = PowerState.Shutdown } : info;
}

/// <summary>Starting a crashed instance is refused (the driver starts only shut-down instances).</summary>
internal sealed class StartFromCrashedRefused(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        if (info.PowerState == PowerState.Crashed)
        {
            throw new InvalidPowerStateException(instanceId, InstanceOperation.Start, PowerState.Crashed);
        }

        await InnerDriver.StartInstanceAsync(instanceId, cancellationToken);
    }
}

/// <summary>A hard reboot of a crashed instance does nothing (a reset of a dead guest), leaving it crashed.</summary>
internal sealed class HardRebootOfCrashedDoesNothing(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default)
    {
        if ((await InnerDriver.GetInstanceAsync(instanceId, cancellationToken)).PowerState == PowerState.Crashed)
        {
            return;
        }

        await InnerDriver.RebootInstanceAsync(instanceId, kind, cancellationToken);
    }
}

/// <summary>The token is checked once up front and not passed on, so a call already under way cannot be cancelled.</summary>
internal sealed class CancellationCheckedOnlyUpFront(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return InnerDriver.CreateInstanceAsync(spec, CancellationToken.None);
    }

    public override Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return InnerDriver.StartInstanceAsync(instanceId, CancellationToken.None);
    }

    public override Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return InnerDriver.DeleteInstanceAsync(instanceId, CancellationToken.None);
    }
}

/// <summary>A cancelled call is reported as a hypervisor timeout (the HTTP client's cancellation taken for a timeout).</summary>
internal sealed class CancellationReportedAsTimeout(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.PowerOffInstanceAsync(instanceId, cancellationToken);
        }
        catch (OperationCanceledException ex)
        {
            throw new HypervisorTimeoutException("The hypervisor did not answer in time.", ex);
        }
    }
}

/// <summary>A delete whose token is already cancelled still deletes, then reports the cancellation.</summary>
internal sealed class CancelledDeleteStillDeletes(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await InnerDriver.DeleteInstanceAsync(instanceId, CancellationToken.None);
        cancellationToken.ThrowIfCancellationRequested();
    }
}

/// <summary>The hypervisor's out-of-memory refusal is not mapped and surfaces as a generic error.</summary>
internal sealed class FullHostAsGenericError(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.StartInstanceAsync(instanceId, cancellationToken);
        }
        catch (InsufficientResourcesException ex)
        {
            throw new HypervisorException("HOST_NOT_ENOUGH_FREE_MEMORY", ex);
        }
    }
}

/// <summary>A resume that fails for lack of memory discards the saved state, leaving the instance shut down.</summary>
internal sealed class FailedResumeDiscardsSavedState(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly HashSet<Guid> _discarded = [];

    public override async Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.ResumeInstanceAsync(instanceId, cancellationToken);
        }
        catch (InsufficientResourcesException)
        {
            lock (_discarded)
            {
                _discarded.Add(instanceId);
            }

            throw;
        }
    }

    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        lock (_discarded)
        {
            return _discarded.Contains(instanceId) && info.PowerState == PowerState.Suspended ? info with { PowerState = PowerState.Shutdown } : info;
        }
    }
}

/// <summary>Console output reads only the first page of the log, so the newest text is missing once it grows.</summary>
internal sealed class ConsoleReadsFirstPageOnly(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var output = await InnerDriver.GetConsoleOutputAsync(instanceId, cancellationToken);
        return output.Text.Length <= 1024 ? output : output with { Text = output.Text[..1024] };
    }
}

/// <summary>Console output never says it was truncated.</summary>
internal sealed class ConsoleTruncationNotReported(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        (await InnerDriver.GetConsoleOutputAsync(instanceId, cancellationToken)) with { Truncated = false };
}

/// <summary>Disposing the driver forgets to close its connection, so watches go on and calls still work.</summary>
internal sealed class DisposeForgetsTheConnection(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>A watch whose stream ends subscribes again, so disposing the driver never ends it.</summary>
internal sealed class WatchResubscribesForever(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) => Reconnecting(cancellationToken);

    private async IAsyncEnumerable<InstanceEvent> Reconnecting([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            IAsyncEnumerable<InstanceEvent>? source = null;
            try
            {
                source = InnerDriver.WatchEventsAsync(cancellationToken);
            }
            catch (ObjectDisposedException)
            {
                // Broken on purpose: try again.
            }

            if (source is not null)
            {
                await foreach (var e in source.WithCancellation(cancellationToken))
                {
                    yield return e;
                }
            }

            await Task.Delay(100, cancellationToken);
        }
    }
}

/// <summary>Base of the event variants: each event of a watch passes through <see cref="Rewrite"/> with the state the watch saw last for its instance.</summary>
internal abstract class EventRewritingDriver(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) =>
        RewriteAll(InnerDriver.WatchEventsAsync(cancellationToken), cancellationToken);

    protected abstract IEnumerable<InstanceEvent> Rewrite(InstanceEvent e, PowerState? before);

    private async IAsyncEnumerable<InstanceEvent> RewriteAll(IAsyncEnumerable<InstanceEvent> source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = new Dictionary<Guid, PowerState>();
        await foreach (var e in source.WithCancellation(cancellationToken))
        {
            PowerState? before = last.TryGetValue(e.InstanceId, out var state) ? state : null;
            last[e.InstanceId] = e.PowerState;
            foreach (var output in Rewrite(e, before))
            {
                yield return output;
            }
        }
    }
}
