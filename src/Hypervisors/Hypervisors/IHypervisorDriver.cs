namespace Hypervisors;

/// <summary>
/// The driver contract: one hypervisor host (or one management endpoint for a host), driven through
/// asynchronous calls. Instances are addressed by the caller-chosen <see cref="Guid"/> given in
/// <see cref="InstanceSpec.Id"/>; a driver maps it to its native handle (a libvirt domain UUID, a vSphere
/// managed object, a XenAPI <c>OpaqueRef</c>, a Hyper-V <c>Msvm_ComputerSystem</c>).
/// </summary>
/// <remarks>
/// <para>Every call may throw a <see cref="HypervisorException"/> subclass; no other exception type leaves a
/// driver for a hypervisor-side failure. An operation that the driver does not implement is declared false in
/// <see cref="Capabilities"/> and throws <see cref="OperationNotSupportedException"/>.</para>
/// <para>Operations that change power state follow <see cref="PowerStateRules"/>: calling one from a state it
/// does not accept throws <see cref="InvalidPowerStateException"/> carrying the current state.</para>
/// <para>Implementations must be safe to call concurrently. Most drivers derive from
/// <see cref="HypervisorDriverBase"/>, which validates arguments and specs and enforces capabilities before
/// the driver's own code runs.</para>
/// </remarks>
public interface IHypervisorDriver : IAsyncDisposable
{
    /// <summary>What this driver supports; constant for the lifetime of the driver.</summary>
    DriverCapabilities Capabilities { get; }

    /// <summary>Reads the host's identity and resources.</summary>
    Task<HostInfo> GetHostInfoAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists every instance this driver manages, with its power state and size, in one call.</summary>
    Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads one instance.</summary>
    /// <exception cref="InstanceNotFoundException">No instance has this id.</exception>
    Task<InstanceInfo> GetInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Defines an instance from <paramref name="spec"/>, leaving it <see cref="PowerState.Shutdown"/> unless
    /// <see cref="InstanceSpec.StartAfterCreate"/> is set. Idempotent on <see cref="InstanceSpec.Id"/>: repeating a
    /// create with an equal spec returns the existing instance; a different spec under the same id, or another
    /// instance's name, throws <see cref="InstanceAlreadyExistsException"/>.
    /// </summary>
    Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Powers on a stopped instance.</summary>
    Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks the guest to shut down (ACPI or guest tools) and waits up to <paramref name="gracefulTimeout"/>;
    /// if it is still on, powers it off hard. <see cref="TimeSpan.Zero"/> powers off at once, and so does a guest
    /// the hypervisor reports cannot be asked (no guest agent or PV drivers): a stop never fails for want of the
    /// guest's cooperation.
    /// </summary>
    Task StopInstanceAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken = default);

    /// <summary>Powers the instance off at once, like pulling the plug.</summary>
    Task PowerOffInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reboots: <see cref="RebootKind.Soft"/> asks the guest, <see cref="RebootKind.Hard"/> resets. A soft reboot of a
    /// guest the hypervisor reports cannot act on it (no guest agent, PV drivers or integration services) throws
    /// <see cref="GuestFeatureUnavailableException"/> and changes nothing; the driver never falls back to a hard
    /// reset on its own, since that loses the guest's unsaved state.
    /// </summary>
    Task RebootInstanceAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken = default);

    /// <summary>Freezes the instance's vCPUs, keeping its memory resident.</summary>
    Task PauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Continues a paused instance.</summary>
    Task UnpauseInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves the instance's memory to storage and releases its host resources. Where the hypervisor needs the guest's
    /// cooperation to suspend (Xen HVM guests without PV drivers) and the guest lacks it, throws
    /// <see cref="GuestFeatureUnavailableException"/> and changes nothing: the instance stays running.
    /// </summary>
    Task SuspendInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Restores a suspended instance.</summary>
    Task ResumeInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Powers the instance off if needed and removes it with the disks the driver created for it. Deleting an
    /// instance that does not exist throws <see cref="InstanceNotFoundException"/>.
    /// </summary>
    Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Reads the tail of the instance's serial console log.</summary>
    Task<ConsoleOutput> GetConsoleOutputAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Lists the instance's disks, attached volumes and network interfaces.</summary>
    Task<InstanceDevices> GetDevicesAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Attaches a volume; attaching the same volume id again throws <see cref="InstanceAlreadyExistsException"/>.
    /// Hot-plugging into a running guest that cannot take it (no PV drivers) throws
    /// <see cref="GuestFeatureUnavailableException"/> and leaves the instance's devices as they were.
    /// </summary>
    Task<VolumeAttachment> AttachVolumeAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken = default);

    /// <summary>Detaches a volume by its id.</summary>
    /// <exception cref="DeviceNotFoundException">The volume is not attached.</exception>
    Task DetachVolumeAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a network interface. Hot-plugging into a running guest that cannot take it throws
    /// <see cref="GuestFeatureUnavailableException"/> and leaves the instance's devices as they were.
    /// </summary>
    Task<NetworkInterfaceInfo> AttachInterfaceAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken = default);

    /// <summary>Removes the network interface with this MAC address.</summary>
    /// <exception cref="DeviceNotFoundException">No interface has this MAC address.</exception>
    Task DetachInterfaceAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken = default);

    /// <summary>Takes a snapshot of the instance's disks (and memory where the hypervisor does so).</summary>
    Task<SnapshotInfo> CreateSnapshotAsync(Guid instanceId, string name, CancellationToken cancellationToken = default);

    /// <summary>Lists the instance's snapshots, oldest first.</summary>
    Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(Guid instanceId, CancellationToken cancellationToken = default);

    /// <summary>Deletes one snapshot, merging its data into its parent.</summary>
    Task DeleteSnapshotAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams lifecycle events from the moment of the call until <paramref name="cancellationToken"/> is
    /// cancelled or the driver is disposed. Each subscriber gets every event, in the order the hypervisor
    /// reported them for each instance.
    /// </summary>
    /// <remarks>
    /// <para>A lost connection to the hypervisor does not end the stream and does not throw into it. The driver
    /// reconnects in the background (waiting longer between failed attempts, by <see cref="ReconnectPolicy"/>),
    /// subscribes again, and then resynchronises: it compares the instances it knew with the hypervisor's current list
    /// and emits one event per difference, <see cref="InstanceEventKind.Created"/> for an instance it had not seen,
    /// <see cref="InstanceEventKind.Deleted"/> for one that is gone and the event of the new state for one whose power
    /// state changed (see <see cref="InstanceStateTracker.KindOf"/>). Live events follow. Changes that happened and were
    /// undone during the outage are not reported, and each instance's last event always carries its current state.</para>
    /// <para>The stream ends only when the token is cancelled or the driver is disposed.</para>
    /// </remarks>
    IAsyncEnumerable<InstanceEvent> WatchEventsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns a driver-specific object (the native connection, a wire client, driver options) or
    /// <see langword="null"/>, in the manner of <see cref="IServiceProvider"/>.
    /// </summary>
    object? GetService(Type serviceType, object? serviceKey = null);
}
