using System.Globalization;

namespace Hypervisors.Fake;

/// <summary>
/// An in-memory hypervisor: the full power-state machine of <see cref="PowerStateRules"/>, host resource
/// accounting (running and paused instances hold vCPUs and memory, every instance holds its disks), lifecycle
/// events for every state change, every optional operation, and the faults set on <see cref="Faults"/>.
/// Safe to call concurrently: one lock guards the state, and events are published under it, so subscribers see
/// them in the order the changes happened.
/// </summary>
public sealed class FakeHypervisorDriver : HypervisorDriverBase
{
    /// <summary>The hypervisor type the fake reports.</summary>
    public const string HypervisorTypeName = "Fake";

    private static readonly DriverCapabilities AllCapabilities = new()
    {
        HypervisorType = HypervisorTypeName,
        SupportsSoftReboot = true,
        SupportsPause = true,
        SupportsSuspend = true,
        SupportsConsoleOutput = true,
        SupportsDeviceListing = true,
        SupportsVolumeAttach = true,
        SupportsInterfaceAttach = true,
        SupportsSnapshots = true,
        SupportsEvents = true,
        SupportsImageDisks = true,
        SupportsKernelBoot = true,
    };

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, FakeInstance> _instances = [];

    // Kept with _instances under _gate, so a create checks its name and the disk in use without a scan of every instance.
    private readonly Dictionary<string, FakeInstance> _instancesByName = new(StringComparer.Ordinal);
    private long _diskGiBUsed;
    private readonly InstanceEventHub _events = new();
    private readonly FakeHypervisorOptions _options;
    private readonly IReadOnlyList<string> _architectures;
    private readonly long _startedAt;

    /// <summary>Creates a fake host described by <paramref name="options"/> (defaults when null).</summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public FakeHypervisorDriver(FakeHypervisorOptions? options = null)
        : this(options, null)
    {
    }

    /// <summary>
    /// Creates a fake host described by <paramref name="options"/> on the clock <paramref name="timeProvider"/>
    /// (used when <see cref="FakeHypervisorOptions.TimeProvider"/> is null; the system clock when both are null).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid.</exception>
    public FakeHypervisorDriver(FakeHypervisorOptions? options, TimeProvider? timeProvider)
        : base(options?.TimeProvider ?? timeProvider, new HostPathPolicy(options?.AllowedHostDirectories ?? []))
    {
        _options = options ?? new FakeHypervisorOptions();
        var errors = _options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid fake hypervisor options: " + string.Join(" ", errors), nameof(options));
        }

        _architectures = [.. _options.Architectures];
        _startedAt = TimeProvider.GetTimestamp();
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities => AllCapabilities;

    /// <summary>The faults this driver injects; the same object as <see cref="FakeHypervisorOptions.Faults"/>.</summary>
    public FakeFaults Faults => _options.Faults;

    /// <summary>Marks a running or paused instance crashed, as a guest kernel panic would, and publishes the event.</summary>
    /// <exception cref="InstanceNotFoundException">No instance has this id.</exception>
    public void SimulateCrash(Guid instanceId)
    {
        lock (_gate)
        {
            var instance = Find(instanceId);
            if (!instance.HoldsResources)
            {
                throw new InvalidOperationException($"Only a running or paused instance can crash; {instanceId} is {instance.State}.");
            }

            instance.MoveTo(PowerState.Crashed, TimeProvider, _options.ConsoleOutputLimit);
            Publish(instanceId, InstanceEventKind.Crashed, PowerState.Crashed);
        }
    }

    /// <summary>
    /// Appends <paramref name="text"/> to a running or paused instance's serial console, as its guest would write it;
    /// the console keeps the newest <see cref="FakeHypervisorOptions.ConsoleOutputLimit"/> characters.
    /// </summary>
    /// <exception cref="InstanceNotFoundException">No instance has this id.</exception>
    public void SimulateConsoleOutput(Guid instanceId, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (_gate)
        {
            var instance = Find(instanceId);
            if (!instance.HoldsResources)
            {
                throw new InvalidOperationException($"Only a running or paused instance writes to its console; {instanceId} is {instance.State}.");
            }

            instance.AppendConsole(text, _options.ConsoleOutputLimit);
        }
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(FakeFaults))
        {
            return _options.Faults;
        }

        return serviceKey is null && serviceType == typeof(FakeHypervisorOptions) ? _options : base.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override ValueTask DisposeAsyncCore()
    {
        _events.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    protected override async Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.GetHostInfo, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var (vcpus, memory) = UsedCompute();
            return new HostInfo
            {
                HypervisorType = HypervisorTypeName,
                HypervisorVersion = _options.HypervisorVersion,
                HostName = _options.HostName,
                Cpu = new CpuInfo("Fake Virtual CPU", "Fake", _architectures[0], 1, _options.VCpus, 1, 2400),
                VCpusTotal = _options.VCpus,
                VCpusUsed = vcpus,
                MemoryMiBTotal = _options.MemoryMiB,
                MemoryMiBUsed = memory,
                LocalDiskGiBTotal = _options.LocalDiskGiB,
                LocalDiskGiBUsed = UsedDisk(),
                SupportedArchitectures = _architectures,
                Uptime = TimeProvider.GetElapsedTime(_startedAt),
            };
        }
    }

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.ListInstances, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return _instances.Values.Select(i => i.ToInfo(TimeProvider)).ToList();
        }
    }

    /// <inheritdoc />
    protected override async Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.GetInstance, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return Find(instanceId).ToInfo(TimeProvider);
        }
    }

    /// <inheritdoc />
    protected override async Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.Create, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (_instances.TryGetValue(spec.Id, out var existing))
            {
                return existing.Spec.Equals(spec)
                    ? existing.ToInfo(TimeProvider)
                    : throw new InstanceAlreadyExistsException($"Instance {spec.Id} already exists with a different spec.") { InstanceId = spec.Id };
            }

            if (_instancesByName.TryGetValue(spec.Name, out var named))
            {
                throw new InstanceAlreadyExistsException($"The name '{spec.Name}' is taken by instance {named.Spec.Id}.") { InstanceId = spec.Id };
            }

            var disk = spec.Disks.Sum(d => d.SizeGiB);
            if (UsedDisk() + disk > _options.LocalDiskGiB)
            {
                throw new InsufficientResourcesException(
                    $"Instance {spec.Id} needs {disk} GiB of disk; {_options.LocalDiskGiB - UsedDisk()} GiB of {_options.LocalDiskGiB} GiB are free.");
            }

            if (spec.StartAfterCreate)
            {
                EnsureCapacity(spec);
            }

            var instance = new FakeInstance(spec, "fake-" + spec.Id.ToString("N", CultureInfo.InvariantCulture));
            foreach (var diskSpec in spec.Disks)
            {
                var device = instance.NextDeviceName();
                instance.Disks.Add(new DiskInfo(device, diskSpec.SizeGiB, diskSpec.ImageRef, $"/var/lib/fake-hypervisor/{instance.NativeId}/{device}.img"));
            }

            foreach (var nic in spec.NetworkInterfaces)
            {
                instance.Interfaces.Add(NewInterface(instance, nic));
            }

            _instances.Add(spec.Id, instance);
            _instancesByName.Add(spec.Name, instance);
            _diskGiBUsed += instance.Disks.Sum(d => d.SizeGiB);
            Publish(spec.Id, InstanceEventKind.Created, PowerState.Shutdown);
            if (spec.StartAfterCreate)
            {
                instance.MoveTo(PowerState.Running, TimeProvider, _options.ConsoleOutputLimit);
                Publish(spec.Id, InstanceEventKind.Started, PowerState.Running);
            }

            return instance.ToInfo(TimeProvider);
        }
    }

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.Start, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override async Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.Stop, TimeProvider, cancellationToken).ConfigureAwait(false);
        await base.StopInstanceCoreAsync(instanceId, gracefulTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override Task RequestShutdownCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var instance = Find(instanceId);
            if (_options.GuestHonoursShutdown && instance.State == PowerState.Running)
            {
                instance.MoveTo(PowerState.Shutdown, TimeProvider, _options.ConsoleOutputLimit);
                Publish(instanceId, InstanceEventKind.Stopped, PowerState.Shutdown);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.PowerOff, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) =>
        ChangeStateAsync(kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.Pause, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.Unpause, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.Suspend, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        ChangeStateAsync(InstanceOperation.Resume, instanceId, cancellationToken);

    /// <inheritdoc />
    protected override async Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.Delete, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            _instances.Remove(instanceId);
            _instancesByName.Remove(instance.Spec.Name);
            _diskGiBUsed -= instance.Disks.Sum(d => d.SizeGiB);
            Publish(instanceId, InstanceEventKind.Deleted, PowerState.NoState);
        }
    }

    /// <inheritdoc />
    protected override async Task<ConsoleOutput> GetConsoleOutputCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.GetConsoleOutput, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            return new ConsoleOutput(instance.ConsoleText, instance.ConsoleTruncated);
        }
    }

    /// <inheritdoc />
    protected override async Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.GetDevices, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            return new InstanceDevices([.. instance.Disks], [.. instance.Volumes], [.. instance.Interfaces]);
        }
    }

    /// <inheritdoc />
    protected override async Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.AttachVolume, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            if (instance.Volumes.Any(v => v.VolumeId == volume.VolumeId))
            {
                throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.") { InstanceId = instanceId };
            }

            var attachment = new VolumeAttachment(volume.VolumeId, volume.Source, instance.NextDeviceName(), volume.ReadOnly);
            instance.Volumes.Add(attachment);
            return attachment;
        }
    }

    /// <inheritdoc />
    protected override async Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.DetachVolume, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (Find(instanceId).Volumes.RemoveAll(v => v.VolumeId == volumeId) == 0)
            {
                throw new DeviceNotFoundException(instanceId, "volume", volumeId) { InstanceId = instanceId };
            }
        }
    }

    /// <inheritdoc />
    protected override async Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.AttachInterface, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            var nic = NewInterface(instance, networkInterface);
            instance.Interfaces.Add(nic);
            return nic;
        }
    }

    /// <inheritdoc />
    protected override async Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.DetachInterface, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (Find(instanceId).Interfaces.RemoveAll(n => n.MacAddress == macAddress) == 0)
            {
                throw new DeviceNotFoundException(instanceId, "interface", macAddress) { InstanceId = instanceId };
            }
        }
    }

    /// <inheritdoc />
    protected override async Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.CreateSnapshot, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            var snapshot = new SnapshotInfo(Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture), name, TimeProvider.GetUtcNow(), instance.State);
            instance.Snapshots.Add(snapshot);
            return snapshot;
        }
    }

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.ListSnapshots, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return [.. Find(instanceId).Snapshots];
        }
    }

    /// <inheritdoc />
    protected override async Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(InstanceOperation.DeleteSnapshot, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            if (Find(instanceId).Snapshots.RemoveAll(s => s.SnapshotId == snapshotId) == 0)
            {
                throw new DeviceNotFoundException(instanceId, "snapshot", snapshotId) { InstanceId = instanceId };
            }
        }
    }

    /// <inheritdoc />
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken)
    {
        // Subscribe synchronously so nothing published after this call is missed; only the connection fault applies.
        Faults.ThrowIfDisconnected(InstanceOperation.WatchEvents);
        return _events.SubscribeAsync(cancellationToken);
    }

    private static InstanceEventKind EventKindOf(InstanceOperation operation) => operation switch
    {
        InstanceOperation.Stop or InstanceOperation.PowerOff => InstanceEventKind.Stopped,
        InstanceOperation.Pause => InstanceEventKind.Paused,
        InstanceOperation.Unpause => InstanceEventKind.Resumed,
        InstanceOperation.Suspend => InstanceEventKind.Suspended,
        _ => InstanceEventKind.Started,
    };

    private async Task ChangeStateAsync(InstanceOperation operation, Guid instanceId, CancellationToken cancellationToken)
    {
        await Faults.ApplyAsync(operation, TimeProvider, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            var instance = Find(instanceId);
            var from = instance.State;
            PowerStateRules.EnsureAllowed(operation, instanceId, from);
            var to = PowerStateRules.ResultOf(operation) ?? from;
            if (to is PowerState.Running or PowerState.Paused && !instance.HoldsResources)
            {
                EnsureCapacity(instance.Spec);
            }

            instance.MoveTo(to, TimeProvider, _options.ConsoleOutputLimit);
            if (operation is InstanceOperation.SoftReboot or InstanceOperation.HardReboot && from != PowerState.Crashed)
            {
                instance.Reboot(TimeProvider, _options.ConsoleOutputLimit);
            }

            Publish(instanceId, EventKindOf(operation), to);
        }
    }

    private FakeInstance Find(Guid instanceId) =>
        _instances.TryGetValue(instanceId, out var instance) ? instance : throw new InstanceNotFoundException(instanceId);

    private void Publish(Guid instanceId, InstanceEventKind kind, PowerState state) =>
        _events.Publish(new InstanceEvent(instanceId, kind, state, TimeProvider.GetUtcNow()));

    private (int VCpus, long MemoryMiB) UsedCompute()
    {
        int vcpus = 0;
        long memory = 0;
        foreach (var instance in _instances.Values.Where(i => i.HoldsResources))
        {
            vcpus += instance.Spec.VCpus;
            memory += instance.Spec.MemoryMiB;
        }

        return (vcpus, memory);
    }

    private long UsedDisk() => _diskGiBUsed;

    private void EnsureCapacity(InstanceSpec spec)
    {
        var (vcpus, memory) = UsedCompute();
        if (vcpus + spec.VCpus > _options.VCpus)
        {
            throw new InsufficientResourcesException(
                $"Instance {spec.Id} needs {spec.VCpus} vCPUs; {_options.VCpus - vcpus} of {_options.VCpus} are free.");
        }

        if (memory + spec.MemoryMiB > _options.MemoryMiB)
        {
            throw new InsufficientResourcesException(
                $"Instance {spec.Id} needs {spec.MemoryMiB} MiB; {_options.MemoryMiB - memory} MiB of {_options.MemoryMiB} MiB are free.");
        }
    }

    private NetworkInterfaceInfo NewInterface(FakeInstance instance, NetworkInterfaceSpec spec)
    {
        var mac = spec.MacAddress is null ? NewMac() : InstanceSpecValidator.NormalizeMac(spec.MacAddress);
        if (_instances.Values.Append(instance).Any(i => i.Interfaces.Any(n => n.MacAddress == mac)))
        {
            throw new InstanceAlreadyExistsException($"MAC address {mac} is already in use on this host.") { InstanceId = instance.Spec.Id };
        }

        var index = 0;
        while (instance.Interfaces.Any(n => n.Device == "eth" + index.ToString(CultureInfo.InvariantCulture)))
        {
            index++;
        }

        return new NetworkInterfaceInfo(mac, spec.Network, "eth" + index.ToString(CultureInfo.InvariantCulture));
    }

    private string NewMac()
    {
        Span<byte> tail = stackalloc byte[3];
        while (true)
        {
            Random.Shared.NextBytes(tail);
            var mac = string.Create(CultureInfo.InvariantCulture, $"52:54:00:{tail[0]:x2}:{tail[1]:x2}:{tail[2]:x2}");
            if (!_instances.Values.Any(i => i.Interfaces.Any(n => n.MacAddress == mac)))
            {
                return mac;
            }
        }
    }
}
