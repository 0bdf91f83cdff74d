using System.Collections.Concurrent;
using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Events;
using Hypervisors.Esx.Inventory;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Esx;

/// <summary>
/// The driver for a standalone ESX host or a vCenter, over the vSphere Web Services API. Instances are VMs whose
/// <c>extraConfig</c> carries the instance id (also set as <c>config.instanceUuid</c>, which the driver looks VMs up
/// by); VMs without it are not listed. The driver connects on first use (or <see cref="ConnectAsync"/>). Creates
/// are idempotent on the id: the driver checks the ids it knows and, unless
/// <see cref="EsxDriverOptions.VerifyNewIdsOnServer"/> is off, asks the server about new ones; the server refuses
/// duplicate names in a folder.
/// </summary>
public sealed partial class EsxDriver : HypervisorDriverBase
{
    /// <summary>The hypervisor family this driver reports.</summary>
    public const string HypervisorType = "VMware";

    private static readonly string[] DevicePaths = ["config.instanceUuid", "config.hardware.device", "config.extraConfig"];
    private static readonly string[] DeletePaths = ["runtime.powerState", "config.instanceUuid", "config.extraConfig"];
    private static readonly string[] HostPaths =
        ["name", "summary.hardware", "summary.quickStats.overallMemoryUsage", "summary.config.product.version", "runtime.bootTime"];

    private readonly EsxDriverOptions _options;
    private readonly ILogger _logger;
    private readonly VimClient _client;
    private readonly TaskWaiter _tasks;
    private readonly InstanceEventHub _hub = new();
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly ConcurrentDictionary<Guid, (ManagedObjectReference Vm, int Generation)> _vms = new();
    private readonly ConcurrentDictionary<string, Guid> _names = new(StringComparer.Ordinal);
    private readonly KeyedAsyncLock<string> _createLocks = new(StringComparer.Ordinal, StringComparer.Ordinal);
    private Placement? _placement;
    private Placement? _resolving;
    private Task _backgroundConnect = Task.CompletedTask;
    private PowerStateWatcher? _watcher;

    /// <summary>Creates the driver; nothing is sent until the first call.</summary>
    public EsxDriver(EsxDriverOptions options, ILogger<EsxDriver>? logger = null, TimeProvider? timeProvider = null)
        : this(options, logger, timeProvider, null)
    {
    }

    internal EsxDriver(EsxDriverOptions options, ILogger? logger, TimeProvider? timeProvider, HttpMessageHandler? handler)
        : base(timeProvider, new HostPathPolicy(options?.AllowedHostDirectories ?? []))
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _client = new VimClient(options.ToClientOptions(), _logger, handler);
        _tasks = new TaskWaiter(_client);
        Capabilities = new DriverCapabilities
        {
            HypervisorType = HypervisorType,
            SupportsSoftReboot = options.SoftReboot,
            SupportsPause = false,
            SupportsSuspend = true,
            SupportsConsoleOutput = false,
            SupportsDeviceListing = true,
            SupportsVolumeAttach = true,
            SupportsInterfaceAttach = true,
            SupportsSnapshots = true,
            SupportsEvents = options.EnableEvents,
            SupportsImageDisks = true,
            SupportsKernelBoot = false,
        };
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities { get; }

    private Placement Current => Volatile.Read(ref _placement) ?? Volatile.Read(ref _resolving) ?? throw new InvalidOperationException("The driver is not connected.");

    /// <summary>Connects now: service content, login, placement and (when enabled) the event watch.</summary>
    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        CallAsync(() => Task.FromResult(true), cancellationToken);

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(VimClient))
        {
            return _client;
        }

        return serviceKey is null && serviceType == typeof(EsxDriverOptions) ? _options : base.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var placement = Current;
            var hostsTask = _client.RetrievePropertiesAsync(w =>
            {
                w.Start("propSet").Element("type", "HostSystem");
                foreach (var path in HostPaths)
                {
                    w.Element("pathSet", path);
                }

                w.End();
                foreach (var host in placement.Hosts)
                {
                    w.Start("objectSet").Ref("obj", host).End();
                }
            }, cancellationToken);
            var datastoreTask = _client.RetrieveObjectAsync(placement.Datastore, ["summary.capacity", "summary.freeSpace"], cancellationToken);
            var vmsTask = ListRecordsAsync(cancellationToken);
            await Task.WhenAll(hostsTask, datastoreTask, vmsTask).ConfigureAwait(false);
            var hosts = await hostsTask.ConfigureAwait(false);
            var datastore = await datastoreTask.ConfigureAwait(false);
            var vms = await vmsTask.ConfigureAwait(false);
            var hardware = hosts.Select(h => h.Properties.GetValueOrDefault("summary.hardware")).OfType<XElement>().ToList();
            var first = hardware.FirstOrDefault();
            var sockets = (int)(first?.ChildLong("numCpuPkgs", 1) ?? 1);
            var cores = (int)(first?.ChildLong("numCpuCores", 1) ?? 1);
            var threads = (int)(first?.ChildLong("numCpuThreads", cores) ?? cores);
            var bootTime = hosts.Select(h => h.Text("runtime.bootTime")).FirstOrDefault(t => t is not null);
            var capacity = long.Parse(datastore.Text("summary.capacity") ?? "0", CultureInfo.InvariantCulture);
            var free = long.Parse(datastore.Text("summary.freeSpace") ?? "0", CultureInfo.InvariantCulture);
            return new HostInfo
            {
                HypervisorType = HypervisorType,
                HypervisorVersion = hosts.Select(h => h.Text("summary.config.product.version")).FirstOrDefault(v => v is not null) ?? _client.Content.Version,
                HostName = hosts.Count == 1 ? hosts[0].Text("name") ?? placement.ComputeResourceName : placement.ComputeResourceName,
                Cpu = new CpuInfo(first?.ChildText("cpuModel") ?? "unknown", first?.ChildText("vendor") ?? string.Empty, "x86_64",
                    Math.Max(1, sockets), Math.Max(1, cores / Math.Max(1, sockets)), Math.Max(1, threads / Math.Max(1, cores)), (int)(first?.ChildLong("cpuMhz") ?? 0)),
                VCpusTotal = (int)hardware.Sum(h => h.ChildLong("numCpuThreads", h.ChildLong("numCpuCores"))),
                VCpusUsed = vms.Where(v => v.PowerState == PowerState.Running).Sum(v => v.VCpus),
                MemoryMiBTotal = hardware.Sum(h => h.ChildLong("memorySize")) / (1024 * 1024),
                MemoryMiBUsed = hosts.Sum(h => long.TryParse(h.Text("summary.quickStats.overallMemoryUsage"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var used) ? used : 0),
                LocalDiskGiBTotal = capacity / (1024L * 1024 * 1024),
                LocalDiskGiBUsed = (capacity - free) / (1024L * 1024 * 1024),
                SupportedArchitectures = ["x86_64", "i686"],
                Uptime = DateTimeOffset.TryParse(bootTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var boot)
                    ? TimeSpan.FromTicks(Math.Max(0, (TimeProvider.GetUtcNow() - boot).Ticks))
                    : TimeSpan.Zero,
            };
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) =>
        CallAsync<IReadOnlyList<InstanceInfo>>(async () =>
            (await ListRecordsAsync(cancellationToken).ConfigureAwait(false)).Select(r => r.ToInfo(r.Id!.Value)).ToList(), cancellationToken);

    /// <inheritdoc />
    protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            var (_, content) = await ReadAsync(instanceId, VmRecord.Paths, cancellationToken).ConfigureAwait(false);
            return VmRecord.Read(content).ToInfo(instanceId);
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken) =>
        CallAsync(async () =>
        {
            using var claimed = await _createLocks.AcquireAsync(["id:" + spec.Id.ToString("N"), "name:" + spec.Name], cancellationToken).ConfigureAwait(false);
            var seen = _vms.ContainsKey(spec.Id) || (_options.VerifyNewIdsOnServer && await FindAsync(spec.Id, cancellationToken).ConfigureAwait(false) is not null);
            if (seen && await FindExistingAsync(spec, cancellationToken).ConfigureAwait(false) is { } known)
            {
                return known;
            }

            await EnsureNameIsFreeAsync(spec, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < spec.NetworkInterfaces.Count; i++)
            {
                CheckNetwork(spec.NetworkInterfaces[i].Network, $"spec.NetworkInterfaces[{i}].Network");
            }

            var placement = Current;
            var diskFiles = await PrepareImageDisksAsync(spec, cancellationToken).ConfigureAwait(false);
            XElement? result;
            try
            {
                result = await RunTaskAsync("CreateVM_Task", placement.Folder, w =>
                {
                    VmConfigWriter.WriteCreateSpec(w, spec, _options.GuestId, placement.DatastoreName, placement.Networks, diskFiles);
                    w.Ref("pool", placement.ResourcePool);
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (VimFaultException fault) when (fault.FaultType == "DuplicateName")
            {
                // Made by another client: the same request again, or a clash.
                await DeleteImageDiskCopiesQuietlyAsync(diskFiles).ConfigureAwait(false);
                return await FindExistingAsync(spec, cancellationToken).ConfigureAwait(false)
                    ?? throw new InstanceAlreadyExistsException($"A VM named '{spec.Name}' already exists in the folder.", fault) { InstanceId = spec.Id, NativeCode = fault.FaultType };
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex))
            {
                await DeleteImageDiskCopiesQuietlyAsync(diskFiles).ConfigureAwait(false);
                throw;
            }

            var vm = result?.AsRef() ?? throw new VimFaultException("InvalidResponse", "CreateVM_Task returned no VM.");
            _vms[spec.Id] = (vm, _client.SessionGeneration);
            _names[spec.Name] = spec.Id;
            var state = PowerState.Shutdown;
            if (spec.StartAfterCreate)
            {
                await RunTaskAsync("PowerOnVM_Task", vm, null, cancellationToken).ConfigureAwait(false);
                state = PowerState.Running;
            }

            return new InstanceInfo(spec.Id, spec.Name, state, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero) { NativeId = vm.Value, Metadata = spec.Metadata };
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        PowerTaskAsync(instanceId, InstanceOperation.Start, "PowerOnVM_Task", cancellationToken);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        PowerTaskAsync(instanceId, InstanceOperation.PowerOff, "PowerOffVM_Task", cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        PowerTaskAsync(instanceId, InstanceOperation.Suspend, "SuspendVM_Task", cancellationToken);

    /// <inheritdoc />
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        PowerTaskAsync(instanceId, InstanceOperation.Resume, "PowerOnVM_Task", cancellationToken);

    /// <inheritdoc />
    protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken)
    {
        if (kind == RebootKind.Hard)
        {
            return PowerTaskAsync(instanceId, InstanceOperation.HardReboot, "ResetVM_Task", cancellationToken);
        }

        return CallAsync(async () =>
        {
            var (vm, _) = await CheckStateAsync(instanceId, InstanceOperation.SoftReboot, cancellationToken).ConfigureAwait(false);
            return await _client.InvokeAsync("RebootGuest", vm, null, _ => true, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>Graceful stop: <c>ShutdownGuest</c>, then a PropertyCollector wait for poweredOff, then a hard power off.</summary>
    protected override Task StopInstanceCoreAsync(Guid instanceId, TimeSpan gracefulTimeout, CancellationToken cancellationToken)
    {
        return CallAsync(async () =>
        {
            var (vm, state) = await CheckStateAsync(instanceId, InstanceOperation.Stop, cancellationToken).ConfigureAwait(false);
            if (gracefulTimeout > TimeSpan.Zero && state == PowerState.Running && await ShutdownGuestAsync(vm, gracefulTimeout, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            try
            {
                await RunTaskAsync("PowerOffVM_Task", vm, null, cancellationToken).ConfigureAwait(false);
            }
            catch (VimFaultException fault) when (fault.FaultType == "InvalidPowerState" && fault.Detail?.ChildText("existingState") == "poweredOff")
            {
                // The guest finished shutting down on its own.
            }

            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        return CallAsync(async () =>
        {
            var (vm, content) = await ReadAsync(instanceId, DeletePaths, cancellationToken).ConfigureAwait(false);
            if (PowerStateMapping.FromVim(content.Text("runtime.powerState")) is PowerState.Running or PowerState.Suspended)
            {
                await RunTaskAsync("PowerOffVM_Task", vm, null, cancellationToken).ConfigureAwait(false);
            }

            var extra = VmRecord.ReadExtraConfig(content.Properties.GetValueOrDefault("config.extraConfig"));
            if (extra.Keys.Any(k => k.StartsWith(VmRecord.VolumeKeyPrefix, StringComparison.Ordinal)))
            {
                await DetachAllVolumesAsync(instanceId, vm, cancellationToken).ConfigureAwait(false);
            }

            await RunTaskAsync("Destroy_Task", vm, null, cancellationToken).ConfigureAwait(false);
            _vms.TryRemove(instanceId, out _);
            foreach (var name in _names.Where(n => n.Value == instanceId).Select(n => n.Key).ToList())
            {
                _names.TryRemove(name, out _);
            }
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    protected override IAsyncEnumerable<InstanceEvent> WatchEventsCoreAsync(CancellationToken cancellationToken)
    {
        var events = _hub.SubscribeAsync(cancellationToken);
        if (Volatile.Read(ref _placement) is null)
        {
            _backgroundConnect = ConnectQuietlyAsync(); // awaited at disposal
        }

        return events;
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await _backgroundConnect.ConfigureAwait(false);
        if (_watcher is not null)
        {
            await _watcher.DisposeAsync().ConfigureAwait(false);
        }

        _hub.Dispose();
        await _tasks.DisposeAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
        _connectGate.Dispose();
    }

    private async Task ConnectQuietlyAsync()
    {
        try
        {
            await ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HypervisorException or ObjectDisposedException || VimClient.IsCallFailure(ex))
        {
            // Unmapped here (no contract call runs): a refused certificate or an unreachable endpoint must not fail
            // the disposal that awaits this background connect.
            LogConnectFailed(_logger, ex);
        }
    }

    /// <summary>
    /// The driver's one mapping place: vSphere faults and transport failures become contract errors through
    /// <see cref="VimErrorMap"/>; the base class calls it for every failure of a call and stamps the operation and instance.
    /// </summary>
    protected override Exception MapException(Exception exception, OperationContext context) => VimErrorMap.ToHypervisorException(exception, context);

    /// <summary>Runs <paramref name="body"/> once connected; failures are mapped by <see cref="MapException"/>.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        return await body().ConfigureAwait(false);
    }

    private async Task EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _placement) is not null)
        {
            return;
        }

        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_placement is not null)
            {
                return;
            }

            await _client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            var placement = await Placement.ResolveAsync(_client, _options, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _resolving, placement);
            await ListRecordsAsync(cancellationToken).ConfigureAwait(false); // learns the names in use
            if (_options.EnableEvents)
            {
                var watcher = new PowerStateWatcher(_client, placement.Folder, _hub, TimeProvider, _logger, _options.EventPollWait);
                await watcher.StartAsync(cancellationToken).ConfigureAwait(false);
                _watcher = watcher;
            }

            LogConnected(_logger, _client.SdkUrl, _client.Content.FullName, placement.ComputeResourceName, placement.DatastoreName);
            Volatile.Write(ref _placement, placement);
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private Task PowerTaskAsync(Guid instanceId, InstanceOperation operation, string method, CancellationToken cancellationToken)
    {
        return CallAsync(async () =>
        {
            var (vm, _) = await CheckStateAsync(instanceId, operation, cancellationToken).ConfigureAwait(false);
            return await RunTaskAsync(method, vm, null, cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>Reads the power state and refuses the operation unless the contract allows it from there.</summary>
    private async Task<(ManagedObjectReference Vm, PowerState State)> CheckStateAsync(Guid instanceId, InstanceOperation operation, CancellationToken cancellationToken)
    {
        var (vm, content) = await ReadAsync(instanceId, VmRecord.StatePaths, cancellationToken).ConfigureAwait(false);
        var state = PowerStateMapping.FromVim(content.Text("runtime.powerState")) ?? PowerState.NoState;
        PowerStateRules.EnsureAllowed(operation, instanceId, state);
        return (vm, state);
    }

    private async Task<bool> ShutdownGuestAsync(ManagedObjectReference vm, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _client.InvokeAsync("ShutdownGuest", vm, null, _ => true, cancellationToken).ConfigureAwait(false);
        }
        catch (VimFaultException fault) when (fault.FaultType is "ToolsUnavailable" or "InvalidState" or "NotSupported" or "MethodNotFound" or "InvalidPowerState")
        {
            LogGuestShutdownRefused(_logger, vm.Value, fault.FaultType);
            return false;
        }

        var off = await _tasks.WaitForAsync(vm, ["runtime.powerState"], v => v.GetValueOrDefault("runtime.powerState")?.Value == "poweredOff", timeout, cancellationToken).ConfigureAwait(false);
        return off is not null;
    }

    /// <summary>Starts a <c>*_Task</c> method and waits for the task through the PropertyCollector.</summary>
    private async Task<XElement?> RunTaskAsync(string method, ManagedObjectReference target, Action<VimWriter>? parameters, CancellationToken cancellationToken)
    {
        var task = await _client.InvokeAsync(method, target, parameters, r => r.Child("returnval")!.AsRef(), cancellationToken).ConfigureAwait(false);
        return await _tasks.WaitAsync(task, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The VM of <paramref name="instanceId"/>: from the cache of this session, else <c>SearchIndex.FindByUuid</c>.</summary>
    private async Task<ManagedObjectReference?> FindAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var generation = _client.SessionGeneration;
        if (_vms.TryGetValue(instanceId, out var cached) && cached.Generation == generation)
        {
            return cached.Vm;
        }

        var found = await _client.InvokeAsync("FindByUuid", _client.Content.SearchIndex,
            w => w.Ref("datacenter", Current.Datacenter).Element("uuid", instanceId.ToString("D")).Element("vmSearch", true).Element("instanceUuid", true),
            r => r.Child("returnval")?.AsRef(), cancellationToken).ConfigureAwait(false);
        if (found is { } vm)
        {
            _vms[instanceId] = (vm, _client.SessionGeneration);
        }

        return found;
    }

    /// <summary>Reads <paramref name="paths"/> (which include <c>config.instanceUuid</c>) of the instance's VM, checking it is still that VM.</summary>
    private async Task<(ManagedObjectReference Vm, ObjectContent Content)> ReadAsync(Guid instanceId, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var vm = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false) ?? throw new InstanceNotFoundException(instanceId);
            try
            {
                var content = await _client.RetrieveObjectAsync(vm, paths, cancellationToken).ConfigureAwait(false);
                if (Guid.TryParse(content.Text("config.instanceUuid"), out var uuid) && uuid == instanceId)
                {
                    return (vm, content);
                }
            }
            catch (VimFaultException fault) when (fault.FaultType == "ManagedObjectNotFound")
            {
                // Deleted behind the cache's back; look it up again.
            }

            _vms.TryRemove(instanceId, out _);
        }

        throw new InstanceNotFoundException(instanceId);
    }

    /// <summary>
    /// Every managed VM in the folder: a container view, one <c>RetrievePropertiesEx</c> over it (paged), and the
    /// view destroyed again. A view kept open would cost vcsim a walk of the folder on every VM it creates.
    /// </summary>
    private async Task<List<VmRecord>> ListRecordsAsync(CancellationToken cancellationToken)
    {
        var view = await Placement.CreateViewAsync(_client, Current.Folder, "VirtualMachine", cancellationToken).ConfigureAwait(false);
        try
        {
            var contents = await _client.RetrievePropertiesAsync(w => PropertySpecs.ForView(w, view, "VirtualMachine", VmRecord.Paths), cancellationToken, sessionScoped: true).ConfigureAwait(false);
            var generation = _client.SessionGeneration;
            var records = new List<VmRecord>(contents.Count);
            foreach (var content in contents)
            {
                var record = VmRecord.Read(content);
                if (record.Id is { } id)
                {
                    records.Add(record);
                    _vms[id] = (record.Vm, generation);
                    _names[record.Name] = id;
                }
            }

            return records;
        }
        finally
        {
            await DestroyViewQuietlyAsync(view).ConfigureAwait(false);
        }
    }

    private async Task DestroyViewQuietlyAsync(ManagedObjectReference view)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await Placement.DestroyViewAsync(_client, view, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex))
        {
            // The view goes with its session.
        }
    }

    /// <summary>
    /// The instance <paramref name="spec"/> would create when it exists already with an equal spec; null when it does
    /// not exist; <see cref="InstanceAlreadyExistsException"/> when it exists with another spec.
    /// </summary>
    private async Task<InstanceInfo?> FindExistingAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        try
        {
            var (_, content) = await ReadAsync(spec.Id, VmRecord.Paths, cancellationToken).ConfigureAwait(false);
            var existing = VmRecord.Read(content);
            return spec.Equals(existing.Spec)
                ? existing.ToInfo(spec.Id)
                : throw new InstanceAlreadyExistsException($"Instance {spec.Id} already exists with a different spec (VM '{existing.Name}').") { InstanceId = spec.Id };
        }
        catch (InstanceNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Refuses a name another instance has. vSphere itself refuses a duplicate name in a folder (DuplicateName);
    /// the driver checks first against the names it has seen (the listing at connect, later listings and its own
    /// creates), confirming a hit with the server. It does not ask the server's SearchIndex on every create: vcsim
    /// neither refuses duplicates nor survives a FindChild or FindByUuid that runs beside a create.
    /// </summary>
    private async Task EnsureNameIsFreeAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        if (!_names.TryGetValue(spec.Name, out var holder) || holder == spec.Id)
        {
            return;
        }

        try
        {
            var (vm, content) = await ReadAsync(holder, ["name", "config.instanceUuid"], cancellationToken).ConfigureAwait(false);
            if (content.Text("name") == spec.Name)
            {
                throw new InstanceAlreadyExistsException($"Instance {holder} ({vm.Value}) already has the name '{spec.Name}'.") { InstanceId = spec.Id };
            }
        }
        catch (InstanceNotFoundException)
        {
            // The holder is gone.
        }

        _names.TryRemove(new KeyValuePair<string, Guid>(spec.Name, holder));
    }

    private ManagedObjectReference CheckNetwork(string network, string field)
    {
        if (!Current.Networks.TryGetValue(network, out var reference))
        {
            throw new InvalidSpecException(field, $"no network named '{network}' in the datacenter; found: {string.Join(", ", Current.Networks.Keys)}.");
        }

        return reference.Type == "Network"
            ? reference
            : throw new InvalidSpecException(field, $"'{network}' is a {reference.Type}; this driver plugs NICs into standard port groups only.");
    }

    [LoggerMessage(EventId = 3010, EventName = "EsxConnected", Level = LogLevel.Information, Message = "Connected to {Url} ({Product}); placing VMs on {ComputeResource}, datastore {Datastore}.")]
    private static partial void LogConnected(ILogger logger, Uri url, string product, string computeResource, string datastore);

    [LoggerMessage(EventId = 3011, EventName = "EsxBackgroundConnectFailed", Level = LogLevel.Warning, Message = "Connecting for the event watch failed; the next call will try again.")]
    private static partial void LogConnectFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3012, EventName = "EsxGuestShutdownRefused", Level = LogLevel.Information, Message = "VM {Vm} refused ShutdownGuest ({Fault}); powering it off.")]
    private static partial void LogGuestShutdownRefused(ILogger logger, string vm, string fault);
}
