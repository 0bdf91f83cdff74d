using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hypervisors.Xen.Events;
using Hypervisors.Xen.Mapping;
using Hypervisors.Xen.Session;
using Hypervisors.Xen.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Xen;

/// <summary>
/// The Xen / XCP-ng / XenServer driver, over XenAPI (XML-RPC or JSON-RPC). Instances are VMs tagged with the
/// caller's id in <c>other_config</c>; operations are synchronous XenAPI calls (tasks only where an operation is long
/// and must be cancellable), and one <c>event.from</c> loop feeds lifecycle events while somebody watches. The README
/// lists the calls each operation makes.
/// </summary>
public sealed partial class XenDriver : HypervisorDriverBase
{
    private const long GiB = 1024L * 1024 * 1024;

    private static readonly DriverCapabilities XenCapabilities = new()
    {
        HypervisorType = "Xen",
        SupportsSoftReboot = true,
        SupportsPause = true,
        SupportsSuspend = true,
        SupportsConsoleOutput = false,
        SupportsDeviceListing = true,
        SupportsVolumeAttach = true,
        SupportsInterfaceAttach = true,
        SupportsSnapshots = true,
        SupportsEvents = true,
        SupportsImageDisks = true,
        SupportsKernelBoot = false,
    };

    private readonly XenDriverOptions _options;
    private readonly ILogger _logger;
    private readonly XenApiRpcClient _rpc;
    private readonly XenApiSession _session;
    private readonly XenEventPump _events;
    private readonly InstanceEventHub _hub = new();
    private readonly ConcurrentDictionary<Guid, string> _refsById = new();
    private readonly KeyedSingleFlight<string, string?> _networkRefs = new(keep: found => found is not null, StringComparer.Ordinal);
    private readonly KeyedAsyncLock<string> _createLocks = new(StringComparer.Ordinal, StringComparer.Ordinal);
    private readonly SemaphoreSlim _readyGate = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();
    private volatile bool _ready;
    private volatile bool _watching;
    private string? _srRef;

    /// <summary>Creates the driver; it connects on first use.</summary>
    public XenDriver(XenDriverOptions options, ILogger<XenDriver>? logger = null, TimeProvider? timeProvider = null, HttpMessageHandler? httpHandler = null)
        : base(timeProvider, new HostPathPolicy(options?.AllowedHostDirectories ?? []))
    {
        ArgumentNullException.ThrowIfNull(options);
        DriverOptionsRegistration.ThrowIfInvalid<XenDriverOptions>(nameof(XenDriverOptions), options.Validate(nameof(XenDriverOptions)));
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var http = new HttpClient(httpHandler ?? CreateHandler(options), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _rpc = new XenApiRpcClient(options.Url!, options.Transport, http, options.RequestTimeout, options.Limits, ownsHttp: true);
        _session = new XenApiSession(_rpc, async cancellationToken =>
        {
            var credential = await options.GetCredentialAsync(cancellationToken).ConfigureAwait(false);
            return new XenCredentials(credential.UserName, credential.Password);
        }, options.Originator);
        _session.Relogged += (_, _) => LogRelogin(_logger);
        _events = new XenEventPump(_session, options.EventPollTimeout, _hub, TimeProvider, _logger, OnRefSeen);
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities => XenCapabilities;

    /// <summary>The options the driver was created with.</summary>
    public XenDriverOptions Options => _options;

    /// <summary>The XenAPI session (tests read its login count).</summary>
    internal XenApiSession Session => _session;

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null)
        {
            if (serviceType == typeof(XenDriverOptions))
            {
                return _options;
            }
        }

        return base.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override async Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) =>
        await RunAsync(null, async ct =>
        {
            var host = XenValue.ToStruct(XenValue.ToStruct(await CallAsync("host.get_all_records", ct).ConfigureAwait(false)).Values.FirstOrDefault()
                ?? throw new HypervisorException("The XenAPI server lists no host."));
            var metrics = XenValue.ToStruct(await CallAsync("host_metrics.get_record", ct, XenValue.ToText(XenValue.Member(host, "metrics"))).ConfigureAwait(false));
            var cpuRefs = XenValue.ToStringArray(XenValue.Member(host, "host_CPUs"));
            var firstCpu = cpuRefs.Length > 0 ? XenValue.ToStruct(await CallAsync("host_cpu.get_record", ct, cpuRefs[0]).ConfigureAwait(false)) : null;
            var cpuInfo = host.GetValueOrDefault("cpu_info") is Dictionary<string, object?> info ? XenValue.ToStringMap(info) : [];
            var vms = XenValue.ToStruct(await CallAsync("VM.get_all_records", ct).ConfigureAwait(false));
            var used = 0;
            foreach (var vm in vms.Values.Cast<Dictionary<string, object?>>())
            {
                if (!IsTrue(vm, "is_a_template") && !IsTrue(vm, "is_control_domain") && VmRecords.PowerStateOf(vm) is PowerState.Running or PowerState.Paused)
                {
                    used += (int)XenValue.ToInt64(vm.GetValueOrDefault("VCPUs_max") ?? 0L);
                }
            }

            var (diskTotal, diskUsed) = await GetStorageAsync(ct).ConfigureAwait(false);
            var cpuCount = cpuInfo.TryGetValue("cpu_count", out var count) ? int.Parse(count, CultureInfo.InvariantCulture) : cpuRefs.Length;
            var sockets = cpuInfo.TryGetValue("socket_count", out var s) ? Math.Max(1, int.Parse(s, CultureInfo.InvariantCulture)) : 1;
            var software = host.GetValueOrDefault("software_version") is Dictionary<string, object?> sw ? XenValue.ToStringMap(sw) : [];
            var memoryTotal = XenValue.ToInt64(XenValue.Member(metrics, "memory_total"));
            var memoryFree = XenValue.ToInt64(XenValue.Member(metrics, "memory_free"));
            var uptime = TimeSpan.Zero;
            if (host.GetValueOrDefault("other_config") is Dictionary<string, object?> other
                && other.TryGetValue("boot_time", out var boot)
                && double.TryParse(XenValue.ToText(boot), NumberStyles.Float, CultureInfo.InvariantCulture, out var bootSeconds))
            {
                uptime = TimeProvider.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds((long)(bootSeconds * 1000));
            }

            return new HostInfo
            {
                HypervisorType = "Xen",
                HypervisorVersion = software.GetValueOrDefault("xen") ?? software.GetValueOrDefault("product_version") ?? XenValue.ToText(host.GetValueOrDefault("API_version_major")),
                HostName = XenValue.ToText(host.GetValueOrDefault("hostname") ?? host.GetValueOrDefault("name_label")),
                Cpu = new CpuInfo(
                    cpuInfo.GetValueOrDefault("modelname") ?? XenValue.ToText(firstCpu?.GetValueOrDefault("modelname")),
                    cpuInfo.GetValueOrDefault("vendor") ?? XenValue.ToText(firstCpu?.GetValueOrDefault("vendor")),
                    "x86_64",
                    sockets,
                    Math.Max(1, cpuCount / sockets),
                    1,
                    firstCpu is null ? 0 : (int)XenValue.ToInt64(firstCpu.GetValueOrDefault("speed") ?? 0L)),
                VCpusTotal = cpuCount,
                VCpusUsed = used,
                MemoryMiBTotal = memoryTotal / (1024 * 1024),
                MemoryMiBUsed = (memoryTotal - memoryFree) / (1024 * 1024),
                LocalDiskGiBTotal = diskTotal / GiB,
                LocalDiskGiBUsed = diskUsed / GiB,
                SupportedArchitectures = Architectures(host),
                Uptime = uptime < TimeSpan.Zero ? TimeSpan.Zero : uptime,
            };
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) =>
        await RunAsync(null, async ct =>
        {
            // The list refreshes the whole index on the way.
            var tagged = Reindex(XenValue.ToStruct(await CallAsync("VM.get_all_records", ct).ConfigureAwait(false)));
            return (IReadOnlyList<InstanceInfo>)[.. tagged.Select(vm => VmRecords.ToInstanceInfo(vm.Id, vm.Ref, vm.Record))];
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            return VmRecords.ToInstanceInfo(instanceId, vmRef, record);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken) =>
        RunAsync(spec.Id, ct => CreateAsync(spec, ct), cancellationToken);

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        VmCallAsync(instanceId, "VM.start", cancellationToken, false, false);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);

            // XenAPI also hard-shuts-down a suspended VM (discarding its saved memory); the contract does not.
            var state = XenPowerStates.Parse(XenValue.ToText(await CallAsync("VM.get_power_state", ct, vmRef).ConfigureAwait(false)));
            PowerStateRules.EnsureAllowed(InstanceOperation.PowerOff, instanceId, state);
            await LongCallAsync("VM.hard_shutdown", ct, vmRef).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var state = XenPowerStates.Parse(XenValue.ToText(await CallAsync("VM.get_power_state", ct, vmRef).ConfigureAwait(false)));
            PowerStateRules.EnsureAllowed(InstanceOperation.Stop, instanceId, state);
            if (gracefulTimeout > TimeSpan.Zero && state == PowerState.Running && await TryCleanShutdownAsync(vmRef, gracefulTimeout, ct).ConfigureAwait(false))
            {
                return true;
            }

            try
            {
                await LongCallAsync("VM.hard_shutdown", ct, vmRef).ConfigureAwait(false);
            }
            catch (XenApiFailureException ex) when (ex.Code == "VM_BAD_POWER_STATE" && ex.Parameters.Count > 2
                && XenPowerStates.Parse(ex.Parameters[2]) == PowerState.Shutdown)
            {
                // The guest finished shutting down on its own in the meantime.
            }

            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override async Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken)
    {
        await (kind == RebootKind.Soft
            ? VmCallAsync(instanceId, "VM.clean_reboot", cancellationToken)
            : VmCallAsync(instanceId, "VM.hard_reboot", cancellationToken)).ConfigureAwait(false);

        // The VM stays Running across a reboot, so its records show no power-state change; watchers still learn
        // the instance began running again.
        _hub.Publish(new InstanceEvent(instanceId, InstanceEventKind.Started, PowerState.Running, TimeProvider.GetUtcNow()));
    }

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        VmCallAsync(instanceId, "VM.pause", cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        VmCallAsync(instanceId, "VM.unpause", cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        VmCallAsync(instanceId, "VM.suspend", cancellationToken);

    /// <inheritdoc />
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        VmCallAsync(instanceId, "VM.resume", cancellationToken, false, false);

    /// <inheritdoc />
    protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            if (VmRecords.PowerStateOf(record) != PowerState.Shutdown)
            {
                await LongCallAsync("VM.hard_shutdown", ct, vmRef).ConfigureAwait(false);
            }

            foreach (var snapshotRef in XenValue.ToStringArray(record.GetValueOrDefault("snapshots") ?? Array.Empty<object?>()))
            {
                await IgnoreMissingAsync(async () =>
                    await DestroyVmAsync(instanceId, snapshotRef, XenValue.ToStruct(await CallAsync("VM.get_record", ct, snapshotRef).ConfigureAwait(false)), ct, ownsAllDisks: true).ConfigureAwait(false)).ConfigureAwait(false);
            }

            await DestroyVmAsync(instanceId, vmRef, record, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<InstanceDevices> GetDevicesCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            var disks = new List<DiskInfo>();
            var volumes = new List<VolumeAttachment>();
            foreach (var vbdRef in XenValue.ToStringArray(XenValue.Member(record, "VBDs")))
            {
                var vbd = XenValue.ToStruct(await CallAsync("VBD.get_record", ct, vbdRef).ConfigureAwait(false));
                var vdiRef = XenValue.ToText(vbd.GetValueOrDefault("VDI"));
                if (vdiRef == XenValue.NullRef || XenValue.ToText(vbd.GetValueOrDefault("type")) == "CD")
                {
                    continue;
                }

                var device = "xvd" + (char)('a' + (int)Math.Clamp(XenValue.ToInt64(XenValue.Member(vbd, "userdevice")), 0, 25));
                var vbdConfig = XenValue.ToStringMap(vbd.GetValueOrDefault("other_config") ?? new Dictionary<string, object?>());
                var vdi = XenValue.ToStruct(await CallAsync("VDI.get_record", ct, vdiRef).ConfigureAwait(false));
                if (vbdConfig.TryGetValue(VmRecords.VolumeIdKey, out var volumeId))
                {
                    volumes.Add(new VolumeAttachment(volumeId, XenValue.ToText(vdi.GetValueOrDefault("uuid")), device,
                        XenValue.ToText(vbd.GetValueOrDefault("mode")) == "RO"));
                }
                else
                {
                    var vdiConfig = XenValue.ToStringMap(vdi.GetValueOrDefault("other_config") ?? new Dictionary<string, object?>());
                    disks.Add(new DiskInfo(device, XenValue.ToInt64(XenValue.Member(vdi, "virtual_size")) / GiB,
                        vdiConfig.GetValueOrDefault(ImageRefKey), XenValue.ToText(vdi.GetValueOrDefault("uuid"))));
                }
            }

            var nics = new List<NetworkInterfaceInfo>();
            foreach (var vifRef in XenValue.ToStringArray(XenValue.Member(record, "VIFs")))
            {
                var vif = XenValue.ToStruct(await CallAsync("VIF.get_record", ct, vifRef).ConfigureAwait(false));
                var network = XenValue.ToStruct(await CallAsync("network.get_record", ct, XenValue.ToText(XenValue.Member(vif, "network"))).ConfigureAwait(false));
                nics.Add(new NetworkInterfaceInfo(InstanceSpecValidator.NormalizeMac(XenValue.ToText(XenValue.Member(vif, "MAC"))),
                    XenValue.ToText(network.GetValueOrDefault("name_label")), XenValue.ToText(vif.GetValueOrDefault("device"))));
            }

            return new InstanceDevices(disks, volumes, nics);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<VolumeAttachment> AttachVolumeCoreAsync(Guid instanceId, VolumeSpec volume, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            var used = new HashSet<long>();
            foreach (var vbdRef in XenValue.ToStringArray(XenValue.Member(record, "VBDs")))
            {
                var vbd = XenValue.ToStruct(await CallAsync("VBD.get_record", ct, vbdRef).ConfigureAwait(false));
                used.Add(XenValue.ToInt64(XenValue.Member(vbd, "userdevice")));
                var config = XenValue.ToStringMap(vbd.GetValueOrDefault("other_config") ?? new Dictionary<string, object?>());
                if (config.GetValueOrDefault(VmRecords.VolumeIdKey) == volume.VolumeId)
                {
                    throw new InstanceAlreadyExistsException($"Volume '{volume.VolumeId}' is already attached to instance {instanceId}.");
                }
            }

            var vdiRef = await FindByNameOrUuidAsync("VDI", volume.Source, ct).ConfigureAwait(false)
                ?? throw new DeviceNotFoundException(instanceId, "volume", volume.Source);
            var slot = Enumerable.Range(0, 16).First(i => !used.Contains(i));
            var vbdRecord = VbdRecord(vmRef, vdiRef, slot, bootable: false, volume.ReadOnly ? "RO" : "RW",
                new Dictionary<string, string> { [VmRecords.VolumeIdKey] = volume.VolumeId });
            var newVbd = XenValue.ToText(await CallAsync("VBD.create", ct, vbdRecord).ConfigureAwait(false));
            if (VmRecords.PowerStateOf(record) == PowerState.Running)
            {
                await PlugOrRemoveAsync("VBD", newVbd, ct).ConfigureAwait(false);
            }

            var uuid = XenValue.ToText(await CallAsync("VDI.get_uuid", ct, vdiRef).ConfigureAwait(false));
            return new VolumeAttachment(volume.VolumeId, uuid, "xvd" + (char)('a' + slot), volume.ReadOnly);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachVolumeCoreAsync(Guid instanceId, string volumeId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            foreach (var vbdRef in XenValue.ToStringArray(XenValue.Member(record, "VBDs")))
            {
                var vbd = XenValue.ToStruct(await CallAsync("VBD.get_record", ct, vbdRef).ConfigureAwait(false));
                var config = XenValue.ToStringMap(vbd.GetValueOrDefault("other_config") ?? new Dictionary<string, object?>());
                if (config.GetValueOrDefault(VmRecords.VolumeIdKey) == volumeId)
                {
                    if (IsTrue(vbd, "currently_attached"))
                    {
                        await LongCallAsync("VBD.unplug", ct, vbdRef).ConfigureAwait(false);
                    }

                    await CallAsync("VBD.destroy", ct, vbdRef).ConfigureAwait(false);
                    return true;
                }
            }

            throw new DeviceNotFoundException(instanceId, "volume", volumeId);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<NetworkInterfaceInfo> AttachInterfaceCoreAsync(Guid instanceId, NetworkInterfaceSpec networkInterface, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var record = XenValue.ToStruct(await CallAsync("VM.get_record", ct, vmRef).ConfigureAwait(false));
            var devices = new HashSet<string>(StringComparer.Ordinal);
            var mac = networkInterface.MacAddress is null ? null : InstanceSpecValidator.NormalizeMac(networkInterface.MacAddress);
            foreach (var vifRef in XenValue.ToStringArray(XenValue.Member(record, "VIFs")))
            {
                var vif = XenValue.ToStruct(await CallAsync("VIF.get_record", ct, vifRef).ConfigureAwait(false));
                devices.Add(XenValue.ToText(vif.GetValueOrDefault("device")));
                if (mac is not null && string.Equals(XenValue.ToText(vif.GetValueOrDefault("MAC")), mac, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InstanceAlreadyExistsException($"Instance {instanceId} already has an interface with MAC {mac}.");
                }
            }

            var device = Enumerable.Range(0, 64).Select(i => i.ToString(CultureInfo.InvariantCulture)).First(d => !devices.Contains(d));
            var vifNew = await CreateVifAsync(vmRef, networkInterface, device, ct).ConfigureAwait(false);
            if (VmRecords.PowerStateOf(record) == PowerState.Running)
            {
                await PlugOrRemoveAsync("VIF", vifNew, ct).ConfigureAwait(false);
            }

            var created = XenValue.ToStruct(await CallAsync("VIF.get_record", ct, vifNew).ConfigureAwait(false));
            return new NetworkInterfaceInfo(InstanceSpecValidator.NormalizeMac(XenValue.ToText(XenValue.Member(created, "MAC"))), networkInterface.Network, device);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DetachInterfaceCoreAsync(Guid instanceId, string macAddress, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            foreach (var (vifRef, vif) in await GetRelatedRecordsAsync("VM.get_VIFs", "VIF", vmRef, ct).ConfigureAwait(false))
            {
                if (string.Equals(XenValue.ToText(vif.GetValueOrDefault("MAC")), macAddress, StringComparison.OrdinalIgnoreCase))
                {
                    if (IsTrue(vif, "currently_attached"))
                    {
                        await LongCallAsync("VIF.unplug", ct, vifRef).ConfigureAwait(false);
                    }

                    await CallAsync("VIF.destroy", ct, vifRef).ConfigureAwait(false);
                    return true;
                }
            }

            throw new DeviceNotFoundException(instanceId, "interface", macAddress);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<SnapshotInfo> CreateSnapshotCoreAsync(Guid instanceId, string name, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var state = XenPowerStates.Parse(XenValue.ToText(await CallAsync("VM.get_power_state", ct, vmRef).ConfigureAwait(false)));
            var snapshotRef = XenValue.ToText(await RunTaskAsync("VM.snapshot", ct, vmRef, name).ConfigureAwait(false));
            await CallAsync("VM.add_to_other_config", ct, snapshotRef, SnapshotStateKey, state.ToString()).ConfigureAwait(false);
            return ToSnapshotInfo(XenValue.ToStruct(await CallAsync("VM.get_record", ct, snapshotRef).ConfigureAwait(false)));
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            var snapshots = await GetRelatedRecordsAsync("VM.get_snapshots", "VM", vmRef, ct).ConfigureAwait(false);

            // Stable: snapshots taken within the same second keep XenAPI's order.
            return (IReadOnlyList<SnapshotInfo>)snapshots.Select(s => ToSnapshotInfo(s.Record)).OrderBy(s => s.CreatedAt).ToList();
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task DeleteSnapshotCoreAsync(Guid instanceId, string snapshotId, CancellationToken cancellationToken) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            foreach (var (snapshotRef, snapshot) in await GetRelatedRecordsAsync("VM.get_snapshots", "VM", vmRef, ct).ConfigureAwait(false))
            {
                if (XenValue.ToText(snapshot.GetValueOrDefault("uuid")) == snapshotId)
                {
                    await DestroyVmAsync(instanceId, snapshotRef, snapshot, ct, ownsAllDisks: true).ConfigureAwait(false);
                    return true;
                }
            }

            throw new DeviceNotFoundException(instanceId, "snapshot", snapshotId);
        }, cancellationToken);

    /// <inheritdoc />
    protected override async IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Subscribe before the loop may start, so nothing published after this call is missed.
        var events = _hub.SubscribeAsync(cancellationToken);
        await RunAsync(null, async ct =>
        {
            await EnsureWatchingAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        await foreach (var item in events.WithCancellation(cancellationToken))
        {
            yield return item;
        }
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await _events.DisposeAsync().ConfigureAwait(false);
        _hub.Dispose();
        await _session.DisposeAsync().ConfigureAwait(false);
        _rpc.Dispose();
        _lifetime.Dispose();
        _readyGate.Dispose();
    }

    /// <summary>
    /// The driver's one mapping place: what the wire layer throws (<see cref="XenApiFailureException"/>,
    /// <see cref="XenApiProtocolException"/>, <see cref="XenApiTransportException"/>) becomes a contract error through
    /// <see cref="XenErrorMap"/>; the base class calls it for every failure of a call and stamps the operation and instance.
    /// </summary>
    protected override Exception MapException(Exception exception, OperationContext context) => XenErrorMap.ToHypervisorException(exception, context);

    private const string ImageRefKey = "hypervisors_image_ref";

    /// <summary>The records of the objects a list method (VM.get_VIFs, VM.get_snapshots, ...) returns for an owner.</summary>
    private async Task<List<(string Ref, Dictionary<string, object?> Record)>> GetRelatedRecordsAsync(
        string listMethod, string itemClass, string ownerRef, CancellationToken cancellationToken)
    {
        var result = new List<(string, Dictionary<string, object?>)>();
        foreach (var itemRef in XenValue.ToStringArray(await CallAsync(listMethod, cancellationToken, ownerRef).ConfigureAwait(false)))
        {
            result.Add((itemRef, XenValue.ToStruct(await CallAsync(itemClass + ".get_record", cancellationToken, itemRef).ConfigureAwait(false))));
        }

        return result;
    }

    private const string SnapshotStateKey = "hypervisors_snapshot_power_state";

    private static SnapshotInfo ToSnapshotInfo(Dictionary<string, object?> snapshot)
    {
        var config = XenValue.ToStringMap(snapshot.GetValueOrDefault("other_config") ?? new Dictionary<string, object?>());
        var state = Enum.TryParse<PowerState>(config.GetValueOrDefault(SnapshotStateKey), out var parsed) ? parsed : PowerState.Shutdown;
        var taken = snapshot.GetValueOrDefault("snapshot_time") switch
        {
            DateTime time => time,
            string text when XenValue.TryParseDateTime(text, out var time) => time,
            _ => DateTime.UnixEpoch,
        };
        return new SnapshotInfo(XenValue.ToText(XenValue.Member(snapshot, "uuid")), XenValue.ToText(XenValue.Member(snapshot, "name_label")),
            new DateTimeOffset(DateTime.SpecifyKind(taken, DateTimeKind.Utc)), state);
    }

    private static bool IsTrue(Dictionary<string, object?> record, string field) =>
        record.TryGetValue(field, out var value) && value is not null && XenValue.ToBoolean(value);

    private static string[] Architectures(Dictionary<string, object?> host)
    {
        var result = new SortedSet<string>(StringComparer.Ordinal);
        if (host.GetValueOrDefault("capabilities") is object?[] capabilities)
        {
            foreach (var capability in capabilities.Select(XenValue.ToText))
            {
                if (capability.EndsWith("x86_64", StringComparison.Ordinal))
                {
                    result.Add("x86_64");
                }
                else if (capability.Contains("x86_32", StringComparison.Ordinal))
                {
                    result.Add("i686");
                }
                else if (capability.Contains("aarch64", StringComparison.Ordinal))
                {
                    result.Add("aarch64");
                }
            }
        }

        return result.Count == 0 ? ["x86_64"] : [.. result];
    }

    private static SocketsHttpHandler CreateHandler(XenDriverOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(15),
            MaxConnectionsPerServer = 64,
        };
        options.Tls.ApplyTo(handler);
        return handler;
    }

    private static Dictionary<string, object?> VbdRecord(string vmRef, string vdiRef, int slot, bool bootable, string mode, Dictionary<string, string> otherConfig) => new(StringComparer.Ordinal)
    {
        ["VM"] = vmRef,
        ["VDI"] = vdiRef,
        ["userdevice"] = slot.ToString(CultureInfo.InvariantCulture),
        ["bootable"] = bootable,
        ["mode"] = mode,
        ["type"] = "Disk",
        ["empty"] = false,
        ["other_config"] = otherConfig,
        ["qos_algorithm_type"] = string.Empty,
        ["qos_algorithm_params"] = new Dictionary<string, string>(),
        ["unpluggable"] = true,
        ["device"] = string.Empty,
    };

    [LoggerMessage(EventId = 4001, EventName = "XenRelogin", Level = LogLevel.Information, Message = "XenAPI session was invalid; logged in again")]
    private static partial void LogRelogin(ILogger logger);

    [LoggerMessage(EventId = 4002, EventName = "XenCreateRollback", Level = LogLevel.Warning, Message = "Rolling back a failed create of instance {InstanceId}")]
    private static partial void LogRollback(ILogger logger, Exception exception, Guid instanceId);

    [LoggerMessage(EventId = 4003, EventName = "XenHotplugCleanupFailed", Level = LogLevel.Warning, Message = "Could not remove {DeviceClass} {DeviceRef} after its hot-plug failed")]
    private static partial void LogHotplugCleanupFailed(ILogger logger, Exception exception, string deviceClass, string deviceRef);
}
