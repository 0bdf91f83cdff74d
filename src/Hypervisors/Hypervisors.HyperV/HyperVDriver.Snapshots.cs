using System.Globalization;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private const string SnapshotNotePrefix = "hypervisors-sdk/snapshot-state:";

    /// <inheritdoc />
    /// <remarks>
    /// <c>Msvm_VirtualSystemSnapshotService.CreateSnapshot</c> (SnapshotType 2, a full snapshot), then
    /// <c>ModifySystemSettings</c> names it and records the power state in its Notes. The snapshot id is the snapshot
    /// settings' InstanceID.
    /// </remarks>
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
        var snapshotService = await ServiceReferenceAsync("Msvm_VirtualSystemSnapshotService", cancellationToken).ConfigureAwait(false);
        var output = await _wmi.InvokeAsync(snapshotService, "CreateSnapshot",
            [new("AffectedSystem", SystemReference(entry.VmGuid)), new("SnapshotType", "2")], cancellationToken).ConfigureAwait(false);
        var snapshot = output.GetReference("ResultingSnapshot") ?? throw WsManEnvelope.Malformed("CreateSnapshot returned no ResultingSnapshot.", null);
        var snapshotId = snapshot.Selector("InstanceID") ?? throw WsManEnvelope.Malformed("the snapshot reference has no InstanceID.", null);
        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(service, "ModifySystemSettings",
        [
            new("SystemSettings", new EmbeddedInstance("Msvm_VirtualSystemSettingData").Set("InstanceID", snapshotId).Set("ElementName", name)
                .SetArray("Notes", [SnapshotNotePrefix + ((int)state).ToString(CultureInfo.InvariantCulture)])),
        ], cancellationToken).ConfigureAwait(false);
        var created = await _wmi.Client.GetAsync(snapshot, cancellationToken).ConfigureAwait(false);
        return ToSnapshot(created);
    }

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return (await QuerySnapshotsAsync(entry, cancellationToken).ConfigureAwait(false)).Select(ToSnapshot)
            .OrderBy(s => s.CreatedAt).ThenBy(s => s.SnapshotId, StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc />
    protected override async Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var snapshots = await QuerySnapshotsAsync(entry, cancellationToken).ConfigureAwait(false);
        if (!snapshots.Any(s => s["InstanceID"] == snapshotId))
        {
            throw new DeviceNotFoundException(instanceId, "snapshot", snapshotId);
        }

        var snapshotService = await ServiceReferenceAsync("Msvm_VirtualSystemSnapshotService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(snapshotService, "DestroySnapshot",
            [new("AffectedSnapshot", WmiSession.Reference(WmiSession.Virtualization, "Msvm_VirtualSystemSettingData", ("InstanceID", snapshotId)))],
            cancellationToken).ConfigureAwait(false);
    }

    private Task<IReadOnlyList<CimInstance>> QuerySnapshotsAsync(VmEntry entry, CancellationToken cancellationToken) =>
        _wmi.QueryAsync(WmiSession.Virtualization,
            "ASSOCIATORS OF {" + Wql.ObjectPath(SystemReference(entry.VmGuid))
            + "} WHERE AssocClass = Msvm_SnapshotOfVirtualSystem ResultClass = Msvm_VirtualSystemSettingData", cancellationToken);

    private static SnapshotInfo ToSnapshot(CimInstance snapshot)
    {
        var note = snapshot.GetArray("Notes").FirstOrDefault(n => n.StartsWith(SnapshotNotePrefix, StringComparison.Ordinal));
        var state = note is not null && int.TryParse(note.AsSpan(SnapshotNotePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && Enum.IsDefined((PowerState)s)
            ? (PowerState)s
            : PowerState.NoState;
        var created = DateTimeOffset.TryParse(snapshot["CreationTime"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : DateTimeOffset.MinValue;
        return new SnapshotInfo(snapshot["InstanceID"] ?? string.Empty, snapshot["ElementName"] ?? string.Empty, created, state);
    }
}
