using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Hypervisors.Fake.Tests.Teeth;

// Deliberately broken drivers: each wraps a healthy fake and breaks one promise of the contract.

/// <summary>Pause leaves the instance suspended instead of paused.</summary>
internal sealed class PauseLeavesSuspended(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        InnerDriver.SuspendInstanceAsync(instanceId, cancellationToken);
}

/// <summary>Repeating a create with the same spec is refused instead of returning the instance.</summary>
internal sealed class CreateNotIdempotent(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if ((await InnerDriver.ListInstancesAsync(cancellationToken)).Any(i => i.Id == spec.Id))
        {
            throw new InstanceAlreadyExistsException($"Instance {spec.Id} exists.");
        }

        return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
    }
}

/// <summary>Deleted instances stay in the list.</summary>
internal sealed class DeleteLeavesListed(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly ConcurrentDictionary<Guid, InstanceInfo> _ghosts = new();

    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        await InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);
        _ghosts[instanceId] = info;
    }

    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. await InnerDriver.ListInstancesAsync(cancellationToken), .. _ghosts.Values];
}

/// <summary>Pause events are never delivered.</summary>
internal sealed class PauseEventsMissing(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) =>
        Filter(InnerDriver.WatchEventsAsync(cancellationToken), cancellationToken);

    private static async IAsyncEnumerable<InstanceEvent> Filter(IAsyncEnumerable<InstanceEvent> source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in source.WithCancellation(cancellationToken))
        {
            if (e.Kind != InstanceEventKind.Paused)
            {
                yield return e;
            }
        }
    }
}

/// <summary>Events are delivered with each pair swapped, so states arrive out of order.</summary>
internal sealed class EventsOutOfOrder(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) =>
        Swap(InnerDriver.WatchEventsAsync(cancellationToken), cancellationToken);

    private static async IAsyncEnumerable<InstanceEvent> Swap(IAsyncEnumerable<InstanceEvent> source, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        InstanceEvent? held = null;
        await foreach (var e in source.WithCancellation(cancellationToken))
        {
            if (held is null)
            {
                held = e;
                continue;
            }

            yield return e;
            yield return held;
            held = null;
        }
    }
}

/// <summary>Host info never counts running instances.</summary>
internal sealed class UsageNotCounted(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        (await InnerDriver.GetHostInfoAsync(cancellationToken)) with { VCpusUsed = 0, MemoryMiBUsed = 0 };
}

/// <summary>Starting a running instance is silently accepted.</summary>
internal sealed class IllegalStartAllowed(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.StartInstanceAsync(instanceId, cancellationToken);
        }
        catch (InvalidPowerStateException)
        {
            // Broken on purpose: the refusal is swallowed.
        }
    }
}

/// <summary>A refused unpause still changes the state (it pauses the running instance).</summary>
internal sealed class RefusalChangesState(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        if (info.PowerState == PowerState.Running)
        {
            await InnerDriver.PauseInstanceAsync(instanceId, cancellationToken);
            throw new InvalidPowerStateException(instanceId, InstanceOperation.Unpause, PowerState.Running);
        }

        await InnerDriver.UnpauseInstanceAsync(instanceId, cancellationToken);
    }
}

/// <summary>Unknown ids surface as a generic error instead of <see cref="InstanceNotFoundException"/>.</summary>
internal sealed class NotFoundAsGenericError(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        }
        catch (InstanceNotFoundException ex)
        {
            throw new HypervisorException("Domain not found.", ex);
        }
    }
}

/// <summary>Deleting an unknown id silently succeeds.</summary>
internal sealed class DeleteUnknownSucceeds(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        try
        {
            await InnerDriver.DeleteInstanceAsync(instanceId, cancellationToken);
        }
        catch (InstanceNotFoundException)
        {
            // Broken on purpose.
        }
    }
}

/// <summary>Declares snapshots unsupported but performs them anyway.</summary>
internal sealed class SnapshotsDeclaredFalseButWork(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override DriverCapabilities Capabilities => InnerDriver.Capabilities with { SupportsSnapshots = false };
}

/// <summary>The list leaves out the first instance.</summary>
internal sealed class ListMissesAnInstance(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListInstancesAsync(cancellationToken)).Skip(1)];
}

/// <summary>Every call ignores its cancellation token.</summary>
internal sealed class CancellationIgnored(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) => InnerDriver.GetHostInfoAsync(CancellationToken.None);

    public override Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) => InnerDriver.ListInstancesAsync(CancellationToken.None);

    public override Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.GetInstanceAsync(instanceId, CancellationToken.None);

    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) => InnerDriver.CreateInstanceAsync(spec, CancellationToken.None);

    public override Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.StartInstanceAsync(instanceId, CancellationToken.None);

    public override Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.PowerOffInstanceAsync(instanceId, CancellationToken.None);

    public override Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) => InnerDriver.DeleteInstanceAsync(instanceId, CancellationToken.None);

    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) => InnerDriver.WatchEventsAsync(CancellationToken.None);
}

/// <summary>Attaching an attached volume again returns the existing attachment instead of refusing.</summary>
internal sealed class DoubleAttachAllowed(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.AttachVolumeAsync(instanceId, volume, cancellationToken);
        }
        catch (InstanceAlreadyExistsException)
        {
            return (await InnerDriver.GetDevicesAsync(instanceId, cancellationToken)).Volumes.Single(v => v.VolumeId == volume.VolumeId);
        }
    }
}

/// <summary>Metadata given at create is lost.</summary>
internal sealed class MetadataDropped(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        (await InnerDriver.GetInstanceAsync(instanceId, cancellationToken)) with { Metadata = new Dictionary<string, string>() };
}

/// <summary>Instance info reports one vCPU whatever the spec asked for.</summary>
internal sealed class VCpusMisreported(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        (await InnerDriver.GetInstanceAsync(instanceId, cancellationToken)) with { VCpus = 1 };
}

/// <summary>Host info names a different hypervisor type than the capabilities.</summary>
internal sealed class HostTypeMismatch(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default) =>
        (await InnerDriver.GetHostInfoAsync(cancellationToken)) with { HypervisorType = "QEMU" };
}

/// <summary>Declares image disks unsupported but creates them anyway.</summary>
internal sealed class ImageDisksDeclaredFalseButWork(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override DriverCapabilities Capabilities => InnerDriver.Capabilities with { SupportsImageDisks = false };
}

/// <summary>Declares image disks but refuses every spec that has one.</summary>
internal sealed class ImageDisksDeclaredTrueButRefused(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        spec.Disks.Any(d => d.ImageRef is not null)
            ? throw new OperationNotSupportedException(Capabilities.HypervisorType, InstanceOperation.Create, "disks from an image are not supported.")
            : InnerDriver.CreateInstanceAsync(spec, cancellationToken);
}

/// <summary>Declares image disks but creates a blank disk in place of the image.</summary>
internal sealed class ImageDisksCreatedBlank(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        InnerDriver.CreateInstanceAsync(spec with { Disks = [.. spec.Disks.Select(d => d with { ImageRef = null })] }, cancellationToken);
}

/// <summary>Declares image disks unsupported and refuses them, but only after creating the instance without them.</summary>
internal sealed class ImageDisksRefusedAfterCreating(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override DriverCapabilities Capabilities => InnerDriver.Capabilities with { SupportsImageDisks = false };

    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if (!spec.Disks.Any(d => d.ImageRef is not null))
        {
            return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        }

        await InnerDriver.CreateInstanceAsync(spec with { Disks = [.. spec.Disks.Where(d => d.ImageRef is null)] }, cancellationToken);
        throw new OperationNotSupportedException(Capabilities.HypervisorType, InstanceOperation.Create, "disks from an image are not supported.");
    }
}

/// <summary>Suspended instances keep holding host memory.</summary>
internal sealed class SuspendKeepsMemory(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly ConcurrentDictionary<Guid, long> _suspended = new();

    public override async Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        await InnerDriver.SuspendInstanceAsync(instanceId, cancellationToken);
        _suspended[instanceId] = info.MemoryMiB;
    }

    public override async Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default)
    {
        var host = await InnerDriver.GetHostInfoAsync(cancellationToken);
        return host with { MemoryMiBUsed = host.MemoryMiBUsed + _suspended.Values.Sum() };
    }
}

/// <summary>The event stream ignores every cancellation token and ends only when the driver is disposed.</summary>
internal sealed class WatchIgnoresCancellation(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default) =>
        Uncancellable(InnerDriver.WatchEventsAsync(CancellationToken.None));

    private static async IAsyncEnumerable<InstanceEvent> Uncancellable(IAsyncEnumerable<InstanceEvent> source)
    {
        await foreach (var e in source)
        {
            yield return e;
        }
    }
}

/// <summary>The name of a deleted instance stays reserved, so it cannot be used again.</summary>
internal sealed class DeletedNamesStayReserved(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly ConcurrentDictionary<string, Guid> _reserved = new();

    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if (_reserved.TryGetValue(spec.Name, out var owner) && owner != spec.Id)
        {
            throw new InstanceAlreadyExistsException($"The name '{spec.Name}' is reserved.");
        }

        _reserved[spec.Name] = spec.Id;
        return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
    }
}
