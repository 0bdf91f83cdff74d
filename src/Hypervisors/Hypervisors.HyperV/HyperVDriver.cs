using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.HyperV;

/// <summary>
/// Drives one Hyper-V host remotely through WMI v2 (<c>root/virtualization/v2</c>) over WS-Management. Instances are
/// the VMs whose settings carry the driver's note (<see cref="InstanceNotes"/>); their contract id maps to Hyper-V's
/// VM GUID through a per-driver index, filled by one enumeration on first use and kept by create and delete.
/// </summary>
public sealed partial class HyperVDriver : HypervisorDriverBase
{
    private static readonly DriverCapabilities DriverCapabilities = new()
    {
        HypervisorType = "Hyper-V",
        SupportsSoftReboot = true,
        SupportsPause = true,
        SupportsSuspend = true,
        SupportsConsoleOutput = false, // WMI exposes no serial console output.
        SupportsDeviceListing = true,
        SupportsVolumeAttach = true,
        SupportsInterfaceAttach = true,
        SupportsSnapshots = true,
        SupportsEvents = true, // From the driver's own operations and a poll of the VM list; see WatchEventsCoreAsync.
        SupportsImageDisks = true, // Differencing VHDX on a parent image: a path on the host, or a VHDX of this machine placed in the image share.
        SupportsKernelBoot = false,
    };

    private readonly HyperVDriverOptions _options;
    private readonly HttpClient _http;
    private readonly WmiSession _wmi;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Guid, VmEntry> _index = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<EndpointReference>>> _services = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposing = new();
    private readonly SemaphoreSlim _indexLoad = new(1, 1);
    private readonly HostPathPolicy _localImages;
    private readonly KeyedAsyncLock<string> _createLocks = new(StringComparer.Ordinal, StringComparer.Ordinal);
    private volatile bool _indexLoaded;

    /// <summary>Creates the driver; no connection is made until the first call.</summary>
    public HyperVDriver(HyperVDriverOptions options, ILogger<HyperVDriver>? logger = null, TimeProvider? timeProvider = null)
        : base(timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        DriverOptionsRegistration.ThrowIfInvalid<HyperVDriverOptions>(nameof(HyperVDriverOptions), options.Validate(nameof(HyperVDriverOptions)));

        _options = options;
        _localImages = new HostPathPolicy(options.AllowedHostDirectories);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var endpoint = options.ResolveEndpoint();
        _http = new HttpClient(options.HttpMessageHandler ?? CreateHandler(options), disposeHandler: options.HttpMessageHandler is null)
        {
            Timeout = options.HttpTimeout,
        };
        var credentials = options.GetCredentialAsync;
        var client = new WsManClient(_http, new WsManClientSettings
        {
            Endpoint = endpoint,
            Credentials = credentials,
            Authentication = options.Authentication,
            OperationTimeout = options.OperationTimeout,
            MaxResponseBytes = options.MaxResponseBytes,
        });
        _wmi = new WmiSession(client, options.JobTimeout, options.JobPollInterval, TimeProvider);
    }

    /// <inheritdoc />
    public override DriverCapabilities Capabilities => DriverCapabilities;

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is null && serviceType == typeof(WsManClient))
        {
            return _wmi.Client;
        }

        if (serviceKey is null && serviceType == typeof(WmiSession))
        {
            return _wmi;
        }

        if (serviceType == typeof(HostPathPolicy) && Equals(serviceKey, HostPathPolicy.DiskImagesKey))
        {
            // Only for the images of this machine the driver places in its share: the other references it takes (disk
            // images and volumes on the Hyper-V host) are no files of this machine, so it offers no unkeyed policy.
            return _localImages;
        }

        return base.GetService(serviceType, serviceKey);
    }

    /// <summary>An instance the driver manages: its VM, its spec, and the last power state the driver confirmed or read (null: unknown).</summary>
    private sealed record VmEntry(string VmGuid, InstanceSpec Spec, PowerState? State);

    /// <inheritdoc />
    /// <remarks>
    /// The one place where the driver's wire failures (<see cref="WsManException"/>) become contract errors, through
    /// <see cref="HyperVErrorTable.ToHypervisorException"/>. A not-found answer about the instance's VM also drops it
    /// from the index.
    /// </remarks>
    protected override Exception MapException(Exception exception, OperationContext context)
    {
        var mapped = HyperVErrorTable.ToHypervisorException(exception, context);
        if (mapped is InstanceNotFoundException && context.InstanceId is { } gone)
        {
            _index.TryRemove(gone, out _);
        }

        return mapped;
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        await _disposing.CancelAsync().ConfigureAwait(false);
        await StopEventsAsync().ConfigureAwait(false);
        _http.Dispose();
        _indexLoad.Dispose();
        _disposing.Dispose();
    }

    // ------------------------------------------------------------------ host

    /// <inheritdoc />
    protected override async Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken)
    {
        var systemTask = _wmi.QueryAsync(WmiSession.Cimv2, "SELECT * FROM Win32_ComputerSystem", cancellationToken);
        var processorsTask = _wmi.QueryAsync(WmiSession.Cimv2, "SELECT * FROM Win32_Processor", cancellationToken);
        var osTask = _wmi.QueryAsync(WmiSession.Cimv2, "SELECT * FROM Win32_OperatingSystem", cancellationToken);
        var diskTask = _wmi.QueryAsync(WmiSession.Cimv2, "SELECT * FROM Win32_LogicalDisk WHERE DeviceID = " + Wql.Quote(_options.StorageVolume), cancellationToken);
        var instancesTask = ListInstancesCoreAsync(cancellationToken);
        await Task.WhenAll(systemTask, processorsTask, osTask, diskTask, instancesTask).ConfigureAwait(false);
        var system = (await systemTask.ConfigureAwait(false)).FirstOrDefault() ?? throw WsManException.Malformed("Win32_ComputerSystem returned nothing.");
        var processors = await processorsTask.ConfigureAwait(false);
        var os = (await osTask.ConfigureAwait(false)).FirstOrDefault() ?? throw WsManException.Malformed("Win32_OperatingSystem returned nothing.");
        var disk = (await diskTask.ConfigureAwait(false)).FirstOrDefault();
        var instances = await instancesTask.ConfigureAwait(false);

        var cpu = processors.FirstOrDefault();
        var sockets = Math.Max(1, processors.Count);
        var cores = (int)(cpu?.GetUInt64("NumberOfCores") ?? 1);
        var logicalPerSocket = (int)(cpu?.GetUInt64("NumberOfLogicalProcessors") ?? (ulong)cores);
        var logical = (int)(system.GetUInt64("NumberOfLogicalProcessors") ?? (ulong)(logicalPerSocket * sockets));
        var architecture = cpu?.GetUInt64("Architecture") switch
        {
            12 => "aarch64",
            5 => "aarch64",
            0 => "i686",
            _ => "x86_64",
        };
        var manufacturer = cpu?["Manufacturer"] ?? string.Empty;
        var vendor = manufacturer.Contains("Intel", StringComparison.OrdinalIgnoreCase) ? "Intel"
            : manufacturer.Contains("AMD", StringComparison.OrdinalIgnoreCase) ? "AMD" : manufacturer;
        var totalMiB = (long)((system.GetUInt64("TotalPhysicalMemory") ?? 0) / (1024 * 1024));
        var freeMiB = (long)((os.GetUInt64("FreePhysicalMemory") ?? 0) / 1024);
        var bootTime = DateTimeOffset.TryParse(os["LastBootUpTime"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var boot) ? boot : (DateTimeOffset?)null;
        var diskTotal = (long)((disk?.GetUInt64("Size") ?? 0) >> 30);
        var diskFree = (long)((disk?.GetUInt64("FreeSpace") ?? 0) >> 30);
        return new HostInfo
        {
            HypervisorType = "Hyper-V",
            HypervisorVersion = os["Version"] ?? "unknown",
            HostName = system["Name"] ?? os["CSName"] ?? _options.ResolveEndpoint().Host,
            Cpu = new CpuInfo(cpu?["Name"]?.Trim() ?? "unknown", vendor, architecture, sockets, Math.Max(1, cores),
                Math.Max(1, logicalPerSocket / Math.Max(1, cores)), (int)(cpu?.GetUInt64("MaxClockSpeed") ?? 0)),
            VCpusTotal = logical,
            VCpusUsed = instances.Where(i => HyperVStates.HoldsResources(i.PowerState)).Sum(i => i.VCpus),
            MemoryMiBTotal = totalMiB,
            MemoryMiBUsed = Math.Max(0, totalMiB - freeMiB),
            LocalDiskGiBTotal = diskTotal,
            LocalDiskGiBUsed = Math.Max(0, diskTotal - diskFree),
            SupportedArchitectures = [architecture],
            Uptime = bootTime is { } b && TimeProvider.GetUtcNow() > b ? TimeProvider.GetUtcNow() - b : TimeSpan.Zero,
        };
    }

    // ------------------------------------------------------------------ list and get

    /// <inheritdoc />
    protected override async Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken)
    {
        // A fixed number of enumerations, issued together, whatever the number of VMs.
        var systemsTask = _wmi.QueryAsync(WmiSession.Virtualization, "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'", cancellationToken);
        var settingsTask = _wmi.QueryAsync(WmiSession.Virtualization,
            "SELECT InstanceID, ElementName, Notes, VirtualSystemIdentifier FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemType = 'Microsoft:Hyper-V:System:Realized'", cancellationToken);
        var processorsTask = _wmi.QueryAsync(WmiSession.Virtualization, "SELECT InstanceID, VirtualQuantity FROM Msvm_ProcessorSettingData", cancellationToken);
        var memoryTask = _wmi.QueryAsync(WmiSession.Virtualization, "SELECT InstanceID, VirtualQuantity FROM Msvm_MemorySettingData", cancellationToken);
        await Task.WhenAll(systemsTask, settingsTask, processorsTask, memoryTask).ConfigureAwait(false);
        var processors = ByVmGuid(await processorsTask.ConfigureAwait(false));
        var memory = ByVmGuid(await memoryTask.ConfigureAwait(false));
        var systems = (await systemsTask.ConfigureAwait(false)).Where(s => s["Name"] is not null).GroupBy(s => s["Name"]!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.OrdinalIgnoreCase);
        var result = new List<InstanceInfo>();
        var seen = new HashSet<Guid>();
        foreach (var settings in await settingsTask.ConfigureAwait(false))
        {
            var vmGuid = settings["VirtualSystemIdentifier"];
            if (vmGuid is null || InstanceNotes.Read(settings.GetArray("Notes")) is not { } spec || !systems.TryGetValue(vmGuid, out var system) || !seen.Add(spec.Id))
            {
                continue;
            }

            var info = ToInfo(spec, system, processors.GetValueOrDefault(vmGuid), memory.GetValueOrDefault(vmGuid));
            _index[spec.Id] = new VmEntry(vmGuid, spec, info.PowerState);
            result.Add(info);
        }

        foreach (var stale in _index.Keys.Where(id => !seen.Contains(id)).ToList())
        {
            _index.TryRemove(stale, out _);
        }

        _indexLoaded = true;
        return result;
    }

    /// <inheritdoc />
    protected override async Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var entry = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var systemTask = QuerySystemAsync(entry.VmGuid, cancellationToken);
        var resourcesTask = QueryResourcesAsync(entry.VmGuid, "CIM_ResourceAllocationSettingData", cancellationToken);
        await Task.WhenAll(systemTask, resourcesTask).ConfigureAwait(false);
        var system = await systemTask.ConfigureAwait(false) ?? throw Gone(instanceId);
        var resources = await resourcesTask.ConfigureAwait(false);
        var info = ToInfo(entry.Spec, system, resources.FirstOrDefault(r => r.ClassName == "Msvm_ProcessorSettingData"), resources.FirstOrDefault(r => r.ClassName == "Msvm_MemorySettingData"));
        Remember(instanceId, info.PowerState);
        return info;
    }

    /// <summary>Records the power state the driver just confirmed or read for the instance (null: unknown).</summary>
    private void Remember(Guid instanceId, PowerState? state)
    {
        if (_index.TryGetValue(instanceId, out var entry))
        {
            _index.TryUpdate(instanceId, entry with { State = state }, entry);
        }
    }

    private InstanceInfo ToInfo(InstanceSpec spec, CimInstance system, CimInstance? processor, CimInstance? memory) =>
        new(spec.Id, system["ElementName"] ?? spec.Name, HyperVStates.ToPowerState(system.GetUInt64("EnabledState")),
            (int)(processor?.GetUInt64("VirtualQuantity") ?? (ulong)spec.VCpus),
            (long)(memory?.GetUInt64("VirtualQuantity") ?? (ulong)spec.MemoryMiB),
            TimeSpan.FromMilliseconds(system.GetUInt64("OnTimeInMilliseconds") ?? 0))
        {
            NativeId = system["Name"],
            Metadata = spec.Metadata,
        };

    private static Dictionary<string, CimInstance> ByVmGuid(IReadOnlyList<CimInstance> settings)
    {
        var result = new Dictionary<string, CimInstance>(StringComparer.OrdinalIgnoreCase);
        foreach (var setting in settings)
        {
            if (VmGuidOf(setting["InstanceID"]) is { } guid)
            {
                result.TryAdd(guid, setting);
            }
        }

        return result;
    }

    /// <summary>The VM GUID in a realized setting's InstanceID ("Microsoft:GUID\device\..."), or null.</summary>
    private static string? VmGuidOf(string? instanceId)
    {
        const string Prefix = "Microsoft:";
        if (instanceId is null || !instanceId.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var rest = instanceId[Prefix.Length..];
        var end = rest.IndexOf('\\', StringComparison.Ordinal);
        return end < 0 ? rest : rest[..end];
    }

    private async Task<CimInstance?> QuerySystemAsync(string vmGuid, CancellationToken cancellationToken) =>
        (await _wmi.QueryAsync(WmiSession.Virtualization, "SELECT * FROM Msvm_ComputerSystem WHERE Name = " + Wql.Quote(vmGuid), cancellationToken).ConfigureAwait(false))
        .FirstOrDefault();

    private Task<IReadOnlyList<CimInstance>> QueryResourcesAsync(string vmGuid, string resultClass, CancellationToken cancellationToken) =>
        _wmi.QueryAsync(WmiSession.Virtualization,
            "ASSOCIATORS OF {" + Wql.ObjectPath("Msvm_VirtualSystemSettingData", new KeyValuePair<string, string>("InstanceID", "Microsoft:" + vmGuid))
            + "} WHERE AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = " + resultClass, cancellationToken);

    /// <summary>The index entry for <paramref name="instanceId"/>, reloading the index once on a miss.</summary>
    private async Task<VmEntry> FindAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        if (_index.TryGetValue(instanceId, out var entry))
        {
            return entry;
        }

        await LoadIndexAsync(force: true, cancellationToken).ConfigureAwait(false);
        return _index.TryGetValue(instanceId, out entry) ? entry : throw new InstanceNotFoundException(instanceId);
    }

    private async Task LoadIndexAsync(bool force, CancellationToken cancellationToken)
    {
        if (_indexLoaded && !force)
        {
            return;
        }

        await _indexLoad.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_indexLoaded || force)
            {
                await ListInstancesCoreAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _indexLoad.Release();
        }
    }

    private InstanceNotFoundException Gone(Guid instanceId)
    {
        _index.TryRemove(instanceId, out _);
        return new InstanceNotFoundException(instanceId);
    }

    private EndpointReference SystemReference(string vmGuid) =>
        WmiSession.Reference(WmiSession.Virtualization, "Msvm_ComputerSystem", ("CreationClassName", "Msvm_ComputerSystem"), ("Name", vmGuid));

    /// <summary>
    /// The reference of the host's one <paramref name="className"/> service, looked up once per driver: callers that
    /// arrive together share one lookup (single flight); a failed lookup is forgotten so the next caller tries again.
    /// </summary>
    private async Task<EndpointReference> ServiceReferenceAsync(string className, CancellationToken cancellationToken)
    {
        var lookup = _services.GetOrAdd(className, name => new Lazy<Task<EndpointReference>>(() => LookUpServiceAsync(name, _disposing.Token)));
        try
        {
            return await lookup.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lookup.Value.IsFaulted || lookup.Value.IsCanceled)
        {
            _services.TryRemove(new KeyValuePair<string, Lazy<Task<EndpointReference>>>(className, lookup));
            throw;
        }
    }

    private async Task<EndpointReference> LookUpServiceAsync(string className, CancellationToken cancellationToken)
    {
        var service = (await _wmi.QueryAsync(WmiSession.Virtualization, "SELECT * FROM " + className, cancellationToken).ConfigureAwait(false)).FirstOrDefault()
            ?? throw new WsManException(WsManFailure.Fault, "cim:5", $"The host has no {className}; is the Hyper-V role installed?") { ClassName = className };
        LogServiceFound(_logger, className, service["SystemName"] ?? string.Empty);
        return WmiSession.Reference(WmiSession.Virtualization, className,
            ("CreationClassName", service["CreationClassName"] ?? className), ("Name", service["Name"] ?? string.Empty),
            ("SystemCreationClassName", service["SystemCreationClassName"] ?? "Msvm_ComputerSystem"), ("SystemName", service["SystemName"] ?? string.Empty));
    }

    private static SocketsHttpHandler CreateHandler(HyperVDriverOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 16,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (options.Authentication == WsManAuthentication.Negotiate)
        {
            // The platform's Negotiate handshake asks its handler for credentials; they are read once here.
            handler.Credentials = options.GetCredentialAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }

        options.Tls.ApplyTo(handler);
        return handler;
    }
}
