using System.Collections.Concurrent;

namespace Hypervisors.Fake.Tests.Teeth;

// Deliberately broken drivers around create, the spec and what get and list read back.

/// <summary>Create's idempotency compares only id, name, vCPUs and memory, so a changed metadata, disk or flag under the same id returns the instance.</summary>
internal sealed class CreateComparesOnlySizes(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        var existing = (await InnerDriver.ListInstancesAsync(cancellationToken)).FirstOrDefault(i => i.Id == spec.Id);
        return existing is not null && existing.Name == spec.Name && existing.VCpus == spec.VCpus && existing.MemoryMiB == spec.MemoryMiB
            ? existing
            : await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
    }
}

/// <summary>Create's idempotency compares the spec's lists and dictionary by reference, so an equal spec built anew is refused.</summary>
internal sealed class CreateComparesByReference(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    private readonly ConcurrentDictionary<Guid, InstanceSpec> _created = new();

    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if (_created.TryGetValue(spec.Id, out var first) && !(ReferenceEquals(first.Metadata, spec.Metadata) && ReferenceEquals(first.Disks, spec.Disks)))
        {
            throw new InstanceAlreadyExistsException($"Instance {spec.Id} exists with a different spec.");
        }

        var info = await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        _created.TryAdd(spec.Id, spec);
        return info;
    }
}

/// <summary>Create with StartAfterCreate starts the instance but returns the info read before the start.</summary>
internal sealed class StartAfterCreateReturnsStaleInfo(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        return spec.StartAfterCreate ? info with { PowerState = PowerState.Shutdown } : info;
    }
}

/// <summary>
/// Create with StartAfterCreate defines the instance, then starts it in a second step; when the start fails (a full
/// host) the defined instance is left behind.
/// </summary>
internal sealed class StartAfterCreateLeavesInstanceWhenStartFails(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        if (!spec.StartAfterCreate)
        {
            return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        }

        await InnerDriver.CreateInstanceAsync(spec with { StartAfterCreate = false }, cancellationToken);
        await InnerDriver.StartInstanceAsync(spec.Id, cancellationToken);
        return await InnerDriver.GetInstanceAsync(spec.Id, cancellationToken);
    }
}

/// <summary>Get reports no memory for a suspended instance (its memory is on disk, so the running size reads 0).</summary>
internal sealed class SuspendedMemoryReadsZero(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.GetInstanceAsync(instanceId, cancellationToken);
        return info.PowerState == PowerState.Suspended ? info with { MemoryMiB = 0 } : info;
    }
}

/// <summary>List reads vCPUs from a summary that only knows the default of one.</summary>
internal sealed class ListReportsOneVCpu(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListInstancesAsync(cancellationToken)).Select(i => i with { VCpus = 1 })];
}

/// <summary>List shows a suspended instance as shut down (a saved domain looks inactive).</summary>
internal sealed class ListShowsSuspendedAsShutdown(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListInstancesAsync(cancellationToken)).Select(i => i.PowerState == PowerState.Suspended ? i with { PowerState = PowerState.Shutdown } : i)];
}

/// <summary>Metadata values are stored in a 255-character field and cut there.</summary>
internal sealed class MetadataValuesTruncated(IHypervisorDriver inner) : MetadataRewritingDriver(inner)
{
    protected override IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata) =>
        metadata.ToDictionary(p => p.Key, p => p.Value.Length > 255 ? p.Value[..255] : p.Value);
}

/// <summary>Metadata keys are stored in a 32-character field and cut there.</summary>
internal sealed class MetadataKeysTruncated(IHypervisorDriver inner) : MetadataRewritingDriver(inner)
{
    protected override IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata) =>
        metadata.GroupBy(p => p.Key.Length > 32 ? p.Key[..32] : p.Key).ToDictionary(g => g.Key, g => g.First().Value);
}

/// <summary>Entries with an empty value are not stored (the hypervisor's key-value store drops them).</summary>
internal sealed class MetadataEmptyValuesDropped(IHypervisorDriver inner) : MetadataRewritingDriver(inner)
{
    protected override IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Where(p => p.Value.Length > 0).ToDictionary();
}

/// <summary>Only the first 32 metadata entries are kept.</summary>
internal sealed class MetadataCappedAt32Entries(IHypervisorDriver inner) : MetadataRewritingDriver(inner)
{
    protected override IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata) =>
        metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Take(32).ToDictionary();
}

/// <summary>Metadata values are XML-escaped on the way in and never unescaped on the way out.</summary>
internal sealed class MetadataLeftEscaped(IHypervisorDriver inner) : MetadataRewritingDriver(inner)
{
    protected override IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata) =>
        metadata.ToDictionary(p => p.Key, p => System.Security.SecurityElement.Escape(p.Value));
}

/// <summary>
/// Names are checked only against shut-down instances; a running holder makes the hypervisor refuse the define
/// with an error the driver does not map.
/// </summary>
internal sealed class NameClashWithActiveInstanceUnmapped(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        var holder = (await InnerDriver.ListInstancesAsync(cancellationToken)).FirstOrDefault(i => i.Name == spec.Name && i.Id != spec.Id);
        if (holder is not null && holder.PowerState != PowerState.Shutdown)
        {
            throw new HypervisorException($"operation failed: domain '{spec.Name}' already exists and is active");
        }

        return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
    }
}

/// <summary>A repeated create of an existing instance defines it again, which powers a running instance off.</summary>
internal sealed class RepeatedCreateRedefinesInstance(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        var info = await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        if (info.PowerState is PowerState.Running or PowerState.Paused && !spec.StartAfterCreate)
        {
            try
            {
                await InnerDriver.PowerOffInstanceAsync(spec.Id, cancellationToken);
            }
            catch (InvalidPowerStateException)
            {
                // A racing repeat powered it off already.
            }

            return await InnerDriver.GetInstanceAsync(spec.Id, cancellationToken);
        }

        return info;
    }
}

/// <summary>InvalidSpecException names the field without the "spec." path.</summary>
internal sealed class InvalidSpecFieldUnqualified(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        try
        {
            return await InnerDriver.CreateInstanceAsync(spec, cancellationToken);
        }
        catch (InvalidSpecException ex) when (ex.Field.StartsWith("spec.", StringComparison.Ordinal))
        {
            throw new InvalidSpecException(ex.Field["spec.".Length..], ex.Message);
        }
    }
}

/// <summary>A negative graceful-stop timeout is taken as zero instead of refused.</summary>
internal sealed class NegativeStopTimeoutAccepted(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default) =>
        InnerDriver.StopInstanceAsync(instanceId, gracefulTimeout < TimeSpan.Zero ? TimeSpan.Zero : gracefulTimeout, cancellationToken);
}

/// <summary>Base of the metadata variants: what get, list and create return passes through <see cref="Rewrite"/>.</summary>
internal abstract class MetadataRewritingDriver(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
{
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default) =>
        Apply(await InnerDriver.CreateInstanceAsync(spec, cancellationToken));

    public override async Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default) =>
        Apply(await InnerDriver.GetInstanceAsync(instanceId, cancellationToken));

    public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default) =>
        [.. (await InnerDriver.ListInstancesAsync(cancellationToken)).Select(Apply)];

    protected abstract IReadOnlyDictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> metadata);

    private InstanceInfo Apply(InstanceInfo info) => info with { Metadata = Rewrite(info.Metadata) };
}
