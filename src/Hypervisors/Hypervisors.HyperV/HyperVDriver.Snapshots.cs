using System.Globalization;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private const string SnapshotNotePrefix = "hypervisors-sdk/snapshot-state:";

    /// <inheritdoc />
    /// <remarks>
    /// <c>Msvm_VirtualSystemSnapshotService.CreateSnapshot</c> (SnapshotType 2, a full snapshot), then
    /// <c>ModifySystemSettings</c> names it and records the power state in its Notes. The snapshot id is the snapshot
    /// settings' InstanceID. The new snapshot is Hyper-V's answer: its <c>ResultingSnapshot</c> when filled, else the
    /// element the job created (<c>Msvm_AffectedJobElement</c>, as the CIM snapshot profile presents it), read once
    /// with its CreationTime. The power state is the one the driver last confirmed; only when it knows none is it
    /// read first. A VM in a transition is refused by Hyper-V (32775), and only then is its state read, for the error.
    /// </remarks>
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var state = entry.State ?? await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
        var snapshotService = await ServiceReferenceAsync("Msvm_VirtualSystemSnapshotService", cancellationToken).ConfigureAwait(false);
        CimInstance output;
        try
        {
            output = await _wmi.InvokeAsync(snapshotService, "CreateSnapshot",
                [new("AffectedSystem", SystemReference(entry.VmGuid)), new("SnapshotType", "2")], cancellationToken).ConfigureAwait(false);
        }
        catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.InvalidPowerState))
        {
            ex.ObservedState = await CurrentStateAsync(instanceId, entry, cancellationToken).ConfigureAwait(false);
            throw;
        }

        var created = await ReadCreatedSnapshotAsync(output, cancellationToken).ConfigureAwait(false);
        var snapshotId = created["InstanceID"] ?? throw WsManException.Malformed("the new snapshot has no InstanceID.");
        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        await _wmi.InvokeAsync(service, "ModifySystemSettings",
        [
            new("SystemSettings", new EmbeddedInstance("Msvm_VirtualSystemSettingData").Set("InstanceID", snapshotId).Set("ElementName", name)
                .SetArray("Notes", [SnapshotNote(state)])),
        ], cancellationToken).ConfigureAwait(false);
        return new SnapshotInfo(snapshotId, name, CreationTimeOf(created), state);
    }

    /// <summary>The snapshot a finished CreateSnapshot made: its ResultingSnapshot, else the settings its job created.</summary>
    private async Task<CimInstance> ReadCreatedSnapshotAsync(CimInstance output, CancellationToken cancellationToken)
    {
        if (output.GetReference("ResultingSnapshot") is { } snapshot)
        {
            return await _wmi.Client.GetAsync(snapshot, cancellationToken).ConfigureAwait(false);
        }

        var job = output.GetReference("Job") ?? throw WsManException.Malformed("CreateSnapshot returned neither a ResultingSnapshot nor a Job.");
        var affected = await _wmi.QueryAsync(WmiSession.Virtualization,
            "ASSOCIATORS OF {" + Wql.ObjectPath(job) + "} WHERE AssocClass = Msvm_AffectedJobElement ResultClass = Msvm_VirtualSystemSettingData",
            cancellationToken).ConfigureAwait(false);
        return affected.FirstOrDefault(s => s["VirtualSystemType"] is null or "Microsoft:Hyper-V:Snapshot:Realized")
            ?? throw WsManException.Malformed("the CreateSnapshot job names no snapshot it created.");
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
        return new SnapshotInfo(snapshot["InstanceID"] ?? string.Empty, snapshot["ElementName"] ?? string.Empty, CreationTimeOf(snapshot), state);
    }

    private static string SnapshotNote(PowerState state) => SnapshotNotePrefix + ((int)state).ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset CreationTimeOf(CimInstance snapshot) =>
        DateTimeOffset.TryParse(snapshot["CreationTime"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : DateTimeOffset.MinValue;
}
