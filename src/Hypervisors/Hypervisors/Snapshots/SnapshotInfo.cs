namespace Hypervisors;

/// <summary>A snapshot of an instance.</summary>
/// <param name="SnapshotId">The driver's id for the snapshot (libvirt snapshot name, vSphere moref, XenAPI ref, ...).</param>
/// <param name="Name">The name given at create.</param>
/// <param name="CreatedAt">When it was taken.</param>
/// <param name="PowerStateAtSnapshot">The instance's power state when it was taken.</param>
public sealed record SnapshotInfo(string SnapshotId, string Name, DateTimeOffset CreatedAt, PowerState PowerStateAtSnapshot);
