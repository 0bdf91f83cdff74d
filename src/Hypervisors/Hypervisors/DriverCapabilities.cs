namespace Hypervisors;

/// <summary>
/// What a driver supports. A false flag means the matching operations throw
/// <see cref="OperationNotSupportedException"/>; the conformance kit checks both directions.
/// Host info, list, get, create, start, stop, power off, hard reboot and delete are mandatory.
/// </summary>
public sealed record DriverCapabilities
{
    /// <summary>The hypervisor family this driver drives ("QEMU", "Xen", "Hyper-V", "VMware", "Fake").</summary>
    public required string HypervisorType { get; init; }

    /// <summary>Soft (guest-initiated) reboot.</summary>
    public bool SupportsSoftReboot { get; init; }

    /// <summary>Pause and unpause.</summary>
    public bool SupportsPause { get; init; }

    /// <summary>Suspend (save to storage) and resume.</summary>
    public bool SupportsSuspend { get; init; }

    /// <summary>Serial console output.</summary>
    public bool SupportsConsoleOutput { get; init; }

    /// <summary>Reading an instance's devices.</summary>
    public bool SupportsDeviceListing { get; init; } = true;

    /// <summary>Volume attach and detach.</summary>
    public bool SupportsVolumeAttach { get; init; }

    /// <summary>Network interface attach and detach.</summary>
    public bool SupportsInterfaceAttach { get; init; }

    /// <summary>Create, list and delete snapshots.</summary>
    public bool SupportsSnapshots { get; init; }

    /// <summary>Lifecycle events through <see cref="IHypervisorDriver.WatchEventsAsync"/>.</summary>
    public bool SupportsEvents { get; init; }

    /// <summary>Disks created from an image reference.</summary>
    public bool SupportsImageDisks { get; init; }

    /// <summary>Direct kernel and initrd boot (<see cref="InstanceSpec.KernelBoot"/>).</summary>
    public bool SupportsKernelBoot { get; init; }

    /// <summary>Whether <paramref name="operation"/> is supported by these capabilities.</summary>
    public bool Supports(InstanceOperation operation) => operation switch
    {
        InstanceOperation.SoftReboot => SupportsSoftReboot,
        InstanceOperation.Pause or InstanceOperation.Unpause => SupportsPause,
        InstanceOperation.Suspend or InstanceOperation.Resume => SupportsSuspend,
        InstanceOperation.GetConsoleOutput => SupportsConsoleOutput,
        InstanceOperation.GetDevices => SupportsDeviceListing,
        InstanceOperation.AttachVolume or InstanceOperation.DetachVolume => SupportsVolumeAttach,
        InstanceOperation.AttachInterface or InstanceOperation.DetachInterface => SupportsInterfaceAttach,
        InstanceOperation.CreateSnapshot or InstanceOperation.ListSnapshots or InstanceOperation.DeleteSnapshot => SupportsSnapshots,
        InstanceOperation.WatchEvents => SupportsEvents,
        _ => true,
    };
}
