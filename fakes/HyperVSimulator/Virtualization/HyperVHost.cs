using System.Globalization;
using HyperVSimulator.Cim;
using HyperVSimulator.Wql;

namespace HyperVSimulator.Virtualization;

/// <summary>
/// The simulated Hyper-V host: the root/virtualization/v2 and root/cimv2 instances, WQL queries and associations over
/// them, and the methods a management client calls, with Hyper-V's return codes and asynchronous
/// <c>Msvm_ConcreteJob</c>s. Follows Microsoft's WMI v2 documentation. All state sits behind one lock.
/// </summary>
public sealed class HyperVHost : IDisposable
{
    public const string ProcessorDeviceId = "b637f346-6a0e-4dec-af52-bd70cb80a21d";
    public const string MemoryDeviceId = "4764334d-e001-4176-82ee-5594ec9b530e";
    private const int MaxRetainedJobs = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<CimObject>> _objects = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, VirtualMachine> _vms = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CimObject> _files = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CimObject> _byInstanceId = new(StringComparer.OrdinalIgnoreCase);
    private readonly Queue<CimObject> _finishedJobs = new();
    private readonly Dictionary<string, List<CimObject>> _jobEffects = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stopping = new();
    private readonly DateTimeOffset _bootTime = DateTimeOffset.UtcNow.AddDays(-3);

    public HyperVHost(HyperVSimulatorOptions options, SimulatorBehavior? behavior = null)
    {
        Options = options;
        Behavior = behavior ?? new SimulatorBehavior();
        Seed();
    }

    public HyperVSimulatorOptions Options { get; }

    public SimulatorBehavior Behavior { get; }

    /// <summary>The number of virtual machines defined.</summary>
    public int VirtualMachineCount
    {
        get
        {
            lock (_gate)
            {
                return _vms.Count;
            }
        }
    }

    /// <summary>The EnabledState of the VM whose ElementName is <paramref name="elementName"/>, or null.</summary>
    public int? EnabledStateOf(string elementName)
    {
        lock (_gate)
        {
            var vm = _vms.Values.FirstOrDefault(v => v.System.GetString("ElementName") == elementName);
            return vm is null ? null : (int)vm.System.GetInt64("EnabledState");
        }
    }

    /// <summary>Whether a file (VHDX) exists on the simulated host.</summary>
    public bool FileExists(string path)
    {
        lock (_gate)
        {
            return HostFileExists(path);
        }
    }

    /// <summary>Puts a file (a VHDX for a volume) on the simulated host, as an administrator would copy one there.</summary>
    public void AddHostFile(string path, long sizeBytes)
    {
        lock (_gate)
        {
            if (!_files.ContainsKey(path))
            {
                AddFile(path, sizeBytes);
            }
        }
    }

    /// <summary>Defines a VM directly (for tests of independent clients); returns its GUID.</summary>
    public string AddVirtualMachine(string elementName, int enabledState = 3)
    {
        lock (_gate)
        {
            var vm = CreateVirtualMachine(new CimObject(CimSchema.Virtualization, "Msvm_VirtualSystemSettingData").Set("ElementName", elementName));
            SetState(vm, enabledState);
            return vm.Guid;
        }
    }

    /// <summary>
    /// Removes the VM named <paramref name="elementName"/> at once, whatever its state, as another management client
    /// (Hyper-V Manager, <c>Remove-VM -Force</c> after a turn-off) would; returns whether one existed.
    /// </summary>
    public bool DeleteVirtualMachine(string elementName)
    {
        lock (_gate)
        {
            var vm = _vms.Values.FirstOrDefault(v => string.Equals(v.System.GetString("ElementName"), elementName, StringComparison.OrdinalIgnoreCase));
            if (vm is null)
            {
                return false;
            }

            RemoveVirtualMachine(vm);
            return true;
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    // ---------------------------------------------------------------- queries

    /// <summary>Runs a WQL query posted to <paramref name="wmiNamespace"/>; returns copies.</summary>
    public IReadOnlyList<CimObject> Query(string wmiNamespace, WqlQuery query)
    {
        lock (_gate)
        {
            Refresh();
            switch (query)
            {
                case SelectQuery select:
                    RequireClass(select.ClassName, wmiNamespace);
                    return AllOf(select.ClassName).Where(o => select.Where?.Matches(o) ?? true).Select(o => o.Clone()).ToList();
                case AssociatorsQuery associators:
                    RequireClass(associators.SourceClass, wmiNamespace);
                    var source = Find(associators.SourceClass, associators.SourceKeys.Select(k => new KeyValuePair<string, string>(k.Key, k.Value)).ToList())
                        ?? throw new WsManFaultException("wsa:DestinationUnreachable", "The object path of the ASSOCIATORS OF query names no instance.", 6);
                    return Associated(source)
                        .Where(a => associators.AssocClass is null || string.Equals(a.Association, associators.AssocClass, StringComparison.OrdinalIgnoreCase))
                        .Where(a => associators.ResultClass is null || CimSchema.IsA(a.Other.ClassName, associators.ResultClass))
                        .Select(a => a.Other.Clone())
                        .ToList();
                default:
                    throw new WsManFaultException("wsman:CannotProcessFilter", "Unsupported query.");
            }
        }
    }

    /// <summary>Reads one instance by its selectors; a missing one is a fault.</summary>
    public CimObject Get(string className, IReadOnlyList<KeyValuePair<string, string>> selectors)
    {
        lock (_gate)
        {
            Refresh();
            RequireClass(className, null);
            var found = Find(className, selectors);
            if (found is null && CimSchema.IsA("CIM_DataFile", className)
                && selectors.FirstOrDefault(k => string.Equals(k.Key, "Name", StringComparison.OrdinalIgnoreCase)).Value is { } name
                && SharedFile(name) is { Exists: true } shared)
            {
                found = DataFile(name, shared.Length);
            }

            return (found ?? throw NotFound(className)).Clone();
        }
    }

    // ---------------------------------------------------------------- methods

    /// <summary>Invokes <paramref name="method"/> on the instance the selectors name.</summary>
    public MethodResult Invoke(string className, IReadOnlyList<KeyValuePair<string, string>> selectors, string method, MethodInput input)
    {
        lock (_gate)
        {
            RequireClass(className, null);
            var target = Find(className, selectors) ?? throw NotFound(className);
            return (target.ClassName, method) switch
            {
                ("Msvm_VirtualSystemManagementService", "DefineSystem") => DefineSystem(input),
                ("Msvm_VirtualSystemManagementService", "ModifySystemSettings") => ModifySystemSettings(input),
                ("Msvm_VirtualSystemManagementService", "ModifyResourceSettings") => ModifyResourceSettings(input),
                ("Msvm_VirtualSystemManagementService", "AddResourceSettings") => AddResourceSettings(input),
                ("Msvm_VirtualSystemManagementService", "RemoveResourceSettings") => RemoveResourceSettings(input),
                ("Msvm_VirtualSystemManagementService", "DestroySystem") => DestroySystem(input),
                ("Msvm_ImageManagementService", "CreateVirtualHardDisk") => CreateVirtualHardDisk(input),
                ("Msvm_VirtualSystemSnapshotService", "CreateSnapshot") => CreateSnapshot(input),
                ("Msvm_VirtualSystemSnapshotService", "DestroySnapshot") => DestroySnapshot(input),
                ("Msvm_ComputerSystem", "RequestStateChange") => RequestStateChange(target, input),
                ("Msvm_ShutdownComponent", "InitiateShutdown") => InitiateShutdown(target),
                ("CIM_DataFile", "Delete") => DeleteFile(target),
                _ => throw new WsManFaultException("wsa:ActionNotSupported", $"{target.ClassName} has no method {method}.", 17),
            };
        }
    }

    private MethodResult DefineSystem(MethodInput input)
    {
        var settingsText = input.Get("SystemSettings");
        var settings = settingsText is null
            ? new CimObject(CimSchema.Virtualization, "Msvm_VirtualSystemSettingData")
            : MethodInput.ParseEmbedded(settingsText, "SystemSettings");
        if (!CimSchema.IsA(settings.ClassName, "CIM_VirtualSystemSettingData"))
        {
            return MethodResult.Code(32773);
        }

        var resources = input.GetAll("ResourceSettings").Select(r => MethodInput.ParseEmbedded(r, "ResourceSettings")).ToList();
        if ((settings.GetString("ElementName") ?? string.Empty).Length > 100)
        {
            return MethodResult.Code(32773);
        }

        var vm = CreateVirtualMachine(settings);
        vm.Busy = true;
        foreach (var resource in resources)
        {
            AddResource(vm, resource);
        }

        var job = StartJob("DefineSystem", "Defining virtual machine", () =>
        {
            vm.Busy = false;
            return null;
        }, () => RemoveVirtualMachine(vm));
        return new MethodResult(4096, [new("Job", CimReference.To(job)), new("ResultingSystem", CimReference.To(vm.System))]);
    }

    private MethodResult ModifySystemSettings(MethodInput input)
    {
        var text = input.Get("SystemSettings");
        if (text is null)
        {
            return MethodResult.Code(32773);
        }

        var settings = MethodInput.ParseEmbedded(text, "SystemSettings");
        var existing = ByInstanceId(settings.GetString("InstanceID"), "Msvm_VirtualSystemSettingData");
        if (existing is null)
        {
            return MethodResult.Code(32773);
        }

        foreach (var (name, value) in settings.Properties.Where(p => p.Key is "ElementName" or "Notes"))
        {
            existing[name] = value;
            if (name == "ElementName" && _vms.TryGetValue(existing.GetString("VirtualSystemIdentifier")!, out var owner) && ReferenceEquals(owner.Settings, existing))
            {
                owner.System["ElementName"] = value;
            }
        }

        var job = StartJob("ModifySystemSettings", "Modifying system settings", () => null, null);
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult ModifyResourceSettings(MethodInput input)
    {
        var changes = input.GetAll("ResourceSettings").Select(r => MethodInput.ParseEmbedded(r, "ResourceSettings")).ToList();
        var targets = new List<(CimObject Existing, CimObject Change)>();
        foreach (var change in changes)
        {
            var id = change.GetString("InstanceID");
            var existing = ByInstanceId(id, "CIM_ResourceAllocationSettingData");
            if (existing is null || !VmOfInstanceId(id!, out var vm))
            {
                return MethodResult.Code(32773);
            }

            var isSizing = existing.ClassName is "Msvm_ProcessorSettingData" or "Msvm_MemorySettingData";
            if (isSizing && vm.System.GetInt64("EnabledState") != 3)
            {
                return MethodResult.Code(32775);
            }

            if (existing.ClassName == "Msvm_ProcessorSettingData" && change.Has("VirtualQuantity")
                && (change.GetInt64("VirtualQuantity") < 1 || change.GetInt64("VirtualQuantity") > Math.Min(240, Options.LogicalProcessors)))
            {
                return MethodResult.Code(32773);
            }

            if (existing.ClassName == "Msvm_MemorySettingData" && change.Has("VirtualQuantity")
                && (change.GetInt64("VirtualQuantity") < 32 || change.GetInt64("VirtualQuantity") % 2 != 0))
            {
                return MethodResult.Code(32773);
            }

            targets.Add((existing, change));
        }

        foreach (var (existing, change) in targets)
        {
            foreach (var (name, value) in change.Properties.Where(p => !string.Equals(p.Key, "InstanceID", StringComparison.OrdinalIgnoreCase)))
            {
                existing[name] = value;
            }
        }

        var job = StartJob("ModifyResourceSettings", "Modifying resource settings", () => null, null);
        return new MethodResult(4096, [new("Job", CimReference.To(job)), new("ResultingResourceSettings", targets.Select(t => CimReference.To(t.Existing)).ToList())]);
    }

    private MethodResult AddResourceSettings(MethodInput input)
    {
        var configuration = input.GetReference("AffectedConfiguration");
        var settings = ByInstanceId(configuration?.Key("InstanceID"), "Msvm_VirtualSystemSettingData");
        if (settings is null || !_vms.TryGetValue(settings.GetString("VirtualSystemIdentifier")!, out var vm))
        {
            return MethodResult.Code(32773);
        }

        var resources = input.GetAll("ResourceSettings").Select(r => MethodInput.ParseEmbedded(r, "ResourceSettings")).ToList();
        if (resources.Count == 0 || !resources.All(r => CimSchema.IsA(r.ClassName, "CIM_ResourceAllocationSettingData")))
        {
            return MethodResult.Code(32773);
        }

        var failure = resources.Select(CheckResource).FirstOrDefault(f => f is not null);
        var added = failure is null ? resources.Select(r => AddResource(vm, r)).ToList() : [];
        var job = StartJob("AddResourceSettings", "Adding resource settings", () => failure, () =>
        {
            foreach (var resource in added)
            {
                RemoveResource(resource);
            }
        });
        return new MethodResult(4096, [new("Job", CimReference.To(job)), new("ResultingResourceSettings", added.Select(CimReference.To).ToList())]);
    }

    private (ushort, string)? CheckResource(CimObject resource)
    {
        var host = resource["HostResource"] is List<string> list ? list.FirstOrDefault() : resource.GetString("HostResource");
        if (resource.ClassName == "Msvm_StorageAllocationSettingData" && (host is null || !HostFileExists(host)))
        {
            return (32779, $"The file '{host}' does not exist.");
        }

        if (resource.ClassName == "Msvm_EthernetPortAllocationSettingData"
            && (host is null || !AllOf("Msvm_VirtualEthernetSwitch").Any(s => host.Contains(s.GetString("Name")!, StringComparison.OrdinalIgnoreCase))))
        {
            return (32773, $"The virtual switch '{host}' does not exist.");
        }

        return null;
    }

    private MethodResult RemoveResourceSettings(MethodInput input)
    {
        var references = input.GetReferences("ResourceSettings");
        var found = references.Select(r => ByInstanceId(r.Key("InstanceID"), "CIM_ResourceAllocationSettingData")).ToList();
        if (found.Count == 0 || found.Any(f => f is null))
        {
            return MethodResult.Code(32773);
        }

        foreach (var resource in found)
        {
            RemoveResource(resource!);
        }

        var job = StartJob("RemoveResourceSettings", "Removing resource settings", () => null, null);
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult DestroySystem(MethodInput input)
    {
        var name = input.GetReference("AffectedSystem")?.Key("Name");
        if (name is null || !_vms.TryGetValue(name, out var vm))
        {
            return MethodResult.Code(32773);
        }

        if (vm.Busy || vm.System.GetInt64("EnabledState") is not (3 or 6))
        {
            return MethodResult.Code(32775);
        }

        vm.Busy = true;
        var job = StartJob("DestroySystem", "Destroying virtual machine", () =>
        {
            RemoveVirtualMachine(vm);
            return null;
        }, () => vm.Busy = false);
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult CreateSnapshot(MethodInput input)
    {
        var name = input.GetReference("AffectedSystem")?.Key("Name");
        if (name is null || !_vms.TryGetValue(name, out var vm))
        {
            return MethodResult.Code(32773);
        }

        if (vm.Busy)
        {
            return MethodResult.Code(32775);
        }

        var now = DateTimeOffset.UtcNow;
        var snapshot = Add(new CimObject(CimSchema.Virtualization, "Msvm_VirtualSystemSettingData")
            .Set("InstanceID", "Microsoft:" + Guid.NewGuid().ToString("D").ToUpperInvariant())
            .Set("Caption", "Virtual Machine Settings")
            .Set("ElementName", vm.System.GetString("ElementName") + " - (" + now.ToString("M/d/yyyy - h:mm:ss tt", CultureInfo.InvariantCulture) + ")")
            .Set("VirtualSystemIdentifier", vm.Guid)
            .Set("VirtualSystemType", "Microsoft:Hyper-V:Snapshot:Realized")
            .Set("VirtualSystemSubType", vm.Settings.GetString("VirtualSystemSubType"))
            .Set("Notes", new List<string>())
            .Set("CreationTime", new CimDateTime(now))
            .Set("Parent", vm.Snapshots.Count == 0 ? null : "Msvm_VirtualSystemSettingData.InstanceID=\"" + vm.Snapshots[^1].GetString("InstanceID") + "\""));
        vm.Snapshots.Add(snapshot);
        var job = StartJob("CreateSnapshot", "Creating snapshot", () => null, () =>
        {
            vm.Snapshots.Remove(snapshot);
            Remove(snapshot);
        });

        // As the CIM snapshot profile states and Hyper-V does: with a job, ResultingSnapshot stays empty and the new
        // snapshot is the job's affected element (Msvm_AffectedJobElement, ElementEffects 5 Create).
        _jobEffects[job.GetString("InstanceID")!] = [snapshot];
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult DestroySnapshot(MethodInput input)
    {
        var snapshot = ByInstanceId(input.GetReference("AffectedSnapshot")?.Key("InstanceID"), "Msvm_VirtualSystemSettingData");
        var vm = snapshot is null ? null : _vms.GetValueOrDefault(snapshot.GetString("VirtualSystemIdentifier") ?? string.Empty);
        if (snapshot is null || vm is null || !vm.Snapshots.Contains(snapshot))
        {
            return MethodResult.Code(32773);
        }

        vm.Snapshots.Remove(snapshot);
        Remove(snapshot);
        var job = StartJob("DestroySnapshot", "Deleting snapshot", () => null, null);
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult CreateVirtualHardDisk(MethodInput input)
    {
        var text = input.Get("VirtualDiskSettingData");
        if (text is null)
        {
            return MethodResult.Code(32773);
        }

        var disk = MethodInput.ParseEmbedded(text, "VirtualDiskSettingData");
        var path = disk.GetString("Path");
        var type = disk.GetInt64("Type");
        var parent = disk.GetString("ParentPath");
        if (string.IsNullOrEmpty(path) || disk.GetInt64("Format") is not (2 or 3) || type is not (2 or 3 or 4) || (type != 4 && disk.GetInt64("MaxInternalSize") <= 0))
        {
            return MethodResult.Code(32773);
        }

        (ushort, string)? failure = HostFileExists(path) ? (32768, $"The file '{path}' already exists.")
            : type == 4 && (parent is null || !HostFileExists(parent)) ? (32779, $"The parent disk '{parent}' does not exist.")
            : type == 4 && !IsVirtualHardDisk(parent!) ? (32768, $"The parent '{parent}' is not a virtual hard disk: the file or directory is corrupted and unreadable.")
            : null;
        if (failure is null)
        {
            AddFile(path, type == 4 ? SizeOf(parent!) : disk.GetInt64("MaxInternalSize"));
        }

        var job = StartJob("CreateVirtualHardDisk", "Creating virtual hard disk", () => failure, () => _files.Remove(path));
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult DeleteFile(CimObject file)
    {
        var path = file.GetString("Name")!;
        var inUse = AllOf("Msvm_StorageAllocationSettingData").Any(s => s["HostResource"] is List<string> l && l.Contains(path, StringComparer.OrdinalIgnoreCase));
        if (inUse)
        {
            return MethodResult.Code(2);
        }

        _files.Remove(path);
        Remove(file);
        return MethodResult.Code(0);
    }

    private MethodResult RequestStateChange(CimObject system, MethodInput input)
    {
        if (!_vms.TryGetValue(system.GetString("Name")!, out var vm))
        {
            return MethodResult.Code(32770);
        }

        if (!int.TryParse(input.Get("RequestedState"), NumberStyles.None, CultureInfo.InvariantCulture, out var requested))
        {
            return MethodResult.Code(32773);
        }

        if (requested is not (2 or 3 or 4 or 6 or 9 or 10 or 11))
        {
            return MethodResult.Code(32773);
        }

        var current = (int)vm.System.GetInt64("EnabledState");
        if (vm.Busy)
        {
            return MethodResult.Code(32775);
        }

        int? transitional;
        int final;
        switch (requested, current)
        {
            case (2, 3):
            case (2, 6):
            case (10, 2):
            case (11, 2):
            case (11, 9):
                (transitional, final) = (10, 2);
                break;
            case (2, 9):
                (transitional, final) = (null, 2);
                break;
            case (3, 2):
            case (3, 9):
            case (4, 2):
                (transitional, final) = (4, 3);
                break;
            case (3, 6):
                (transitional, final) = (null, 3);
                break;
            case (6, 2):
            case (6, 9):
                (transitional, final) = (null, 6);
                break;
            case (9, 2):
                (transitional, final) = (null, 9);
                break;
            default:
                return MethodResult.Code(32775);
        }

        if (final == 2 && current is 3 or 6)
        {
            var used = _vms.Values.Where(v => v != vm && v.System.GetInt64("EnabledState") is 2 or 9 or 10 or 4).Sum(MemoryOf);
            if (used + MemoryOf(vm) > Options.MemoryMiB - 2048 - Behavior.ReservedMemoryMiB)
            {
                var job0 = StartJob("RequestStateChange", "Starting virtual machine", () => (32778, "Not enough memory in the system to start the virtual machine."), null);
                return new MethodResult(4096, [new("Job", CimReference.To(job0))]);
            }
        }

        vm.Busy = true;
        vm.System.Set("RequestedState", requested);
        if (transitional is { } t)
        {
            SetState(vm, t);
        }

        var job = StartJob("RequestStateChange", "Changing virtual machine state", () =>
        {
            vm.Busy = false;
            SetState(vm, final);
            return null;
        }, () =>
        {
            vm.Busy = false;
            SetState(vm, current);
        });
        return new MethodResult(4096, [new("Job", CimReference.To(job))]);
    }

    private MethodResult InitiateShutdown(CimObject component)
    {
        if (!_vms.TryGetValue(component.GetString("SystemName")!, out var vm) || vm.System.GetInt64("EnabledState") != 2 || vm.Busy)
        {
            return MethodResult.Code(32775);
        }

        if (Behavior.GuestsHonorShutdown)
        {
            var startedAt = vm.RunningSince;
            RunLater(Behavior.GuestShutdownDelay, () =>
            {
                if (_vms.ContainsKey(vm.Guid) && !vm.Busy && vm.System.GetInt64("EnabledState") == 2 && vm.RunningSince == startedAt)
                {
                    SetState(vm, 3);
                }
            });
        }

        return MethodResult.Code(0);
    }

    // ---------------------------------------------------------------- model

    private sealed class VirtualMachine(string guid, CimObject system, CimObject settings)
    {
        public string Guid { get; } = guid;

        public CimObject System { get; } = system;

        public CimObject Settings { get; } = settings;

        /// <summary>The VM's snapshots (settings of type Microsoft:Hyper-V:Snapshot:Realized), oldest first.</summary>
        public List<CimObject> Snapshots { get; } = [];

        /// <summary>Every resource setting of the VM (processor, memory, controllers, drives, disks, ports).</summary>
        public List<CimObject> Resources { get; } = [];

        public CimObject Memory => Resources.First(r => r.ClassName == "Msvm_MemorySettingData");

        public bool Busy { get; set; }

        public DateTimeOffset? RunningSince { get; set; }

        public CimObject? Shutdown { get; set; }
    }

    private VirtualMachine CreateVirtualMachine(CimObject requested)
    {
        var guid = System.Guid.NewGuid().ToString("D").ToUpperInvariant();
        var now = new CimDateTime(DateTimeOffset.UtcNow);
        var name = requested.GetString("ElementName") ?? "New Virtual Machine";
        var system = Add(new CimObject(CimSchema.Virtualization, "Msvm_ComputerSystem")
            .Set("Caption", "Virtual Machine")
            .Set("Description", "Microsoft Virtual Machine")
            .Set("ElementName", name)
            .Set("InstallDate", now)
            .Set("Name", guid)
            .Set("CreationClassName", "Msvm_ComputerSystem")
            .Set("EnabledState", 3)
            .Set("RequestedState", 5)
            .Set("HealthState", 5)
            .Set("EnabledDefault", 2)
            .Set("OnTimeInMilliseconds", 0)
            .Set("ProcessID", null)
            .Set("TimeOfLastStateChange", now)
            .Set("NumberOfNumaNodes", 1));
        var settings = Add(new CimObject(CimSchema.Virtualization, "Msvm_VirtualSystemSettingData")
            .Set("InstanceID", "Microsoft:" + guid)
            .Set("Caption", "Virtual Machine Settings")
            .Set("ElementName", name)
            .Set("VirtualSystemIdentifier", guid)
            .Set("VirtualSystemType", "Microsoft:Hyper-V:System:Realized")
            .Set("VirtualSystemSubType", requested.GetString("VirtualSystemSubType") ?? "Microsoft:Hyper-V:SubType:2")
            .Set("Notes", requested["Notes"] as List<string> ?? (requested.GetString("Notes") is { } note ? [note] : []))
            .Set("ConfigurationDataRoot", @"C:\ProgramData\Microsoft\Windows\Hyper-V")
            .Set("CreationTime", now));
        var processor = Add(new CimObject(CimSchema.Virtualization, "Msvm_ProcessorSettingData")
            .Set("InstanceID", $"Microsoft:{guid}\\{ProcessorDeviceId}\\0")
            .Set("Caption", "Processor")
            .Set("ElementName", "Processor")
            .Set("ResourceType", 3)
            .Set("ResourceSubType", "Microsoft:Hyper-V:Processor")
            .Set("VirtualQuantity", 1)
            .Set("Reservation", 0)
            .Set("Limit", 100000)
            .Set("Weight", 100));
        var memory = Add(new CimObject(CimSchema.Virtualization, "Msvm_MemorySettingData")
            .Set("InstanceID", $"Microsoft:{guid}\\{MemoryDeviceId}")
            .Set("Caption", "Memory")
            .Set("ElementName", "Memory")
            .Set("ResourceType", 4)
            .Set("ResourceSubType", "Microsoft:Hyper-V:Memory")
            .Set("AllocationUnits", "byte * 2^20")
            .Set("VirtualQuantity", 1024)
            .Set("Reservation", 1024)
            .Set("Limit", 1048576)
            .Set("DynamicMemoryEnabled", false));
        var vm = new VirtualMachine(guid, system, settings);
        vm.Resources.Add(processor);
        vm.Resources.Add(memory);
        _vms[guid] = vm;
        return vm;
    }

    private CimObject AddResource(VirtualMachine vm, CimObject requested)
    {
        var resource = new CimObject(CimSchema.Virtualization, requested.ClassName)
            .Set("InstanceID", $"Microsoft:{vm.Guid}\\{Guid.NewGuid().ToString("D").ToUpperInvariant()}");
        foreach (var (name, value) in requested.Properties.Where(p => !string.Equals(p.Key, "InstanceID", StringComparison.OrdinalIgnoreCase)))
        {
            resource[name] = value;
        }

        if (resource.ClassName == "Msvm_SyntheticEthernetPortSettingData" && string.IsNullOrEmpty(resource.GetString("Address")))
        {
            resource.Set("Address", "00155D" + Random.Shared.Next(0, 0xFFFFFF).ToString("X6", CultureInfo.InvariantCulture));
        }

        vm.Resources.Add(resource);
        return Add(resource);
    }

    private void RemoveResource(CimObject resource)
    {
        if (VmOfInstanceId(resource.GetString("InstanceID")!, out var vm))
        {
            vm.Resources.Remove(resource);
        }

        Remove(resource);
    }

    private void RemoveVirtualMachine(VirtualMachine vm)
    {
        _vms.Remove(vm.Guid);
        Remove(vm.System);
        Remove(vm.Settings);
        if (vm.Shutdown is not null)
        {
            Remove(vm.Shutdown);
        }

        foreach (var resource in vm.Resources.Concat(vm.Snapshots))
        {
            Remove(resource);
        }

        vm.Resources.Clear();
        vm.Snapshots.Clear();
    }

    private void SetState(VirtualMachine vm, int state)
    {
        vm.System.Set("EnabledState", state).Set("TimeOfLastStateChange", new CimDateTime(DateTimeOffset.UtcNow));
        if (state == 2)
        {
            vm.RunningSince ??= DateTimeOffset.UtcNow;
            vm.Shutdown ??= Add(new CimObject(CimSchema.Virtualization, "Msvm_ShutdownComponent")
                .Set("CreationClassName", "Msvm_ShutdownComponent")
                .Set("DeviceID", $"Microsoft:{vm.Guid}\\9F8233AC-BE49-4C79-8EE3-E7E1985B2077")
                .Set("SystemCreationClassName", "Msvm_ComputerSystem")
                .Set("SystemName", vm.Guid)
                .Set("ElementName", "Shutdown")
                .Set("EnabledState", 2));
        }
        else if (vm.Shutdown is not null)
        {
            Remove(vm.Shutdown);
            vm.Shutdown = null;
        }

        if (state is 3 or 6)
        {
            vm.RunningSince = null;
        }
    }

    private static long MemoryOf(VirtualMachine vm) => vm.Memory.GetInt64("VirtualQuantity");

    private CimObject? ByInstanceId(string? instanceId, string className) =>
        instanceId is not null && _byInstanceId.TryGetValue(instanceId, out var found) && CimSchema.IsA(found.ClassName, className) ? found : null;

    private bool VmOfInstanceId(string instanceId, out VirtualMachine vm)
    {
        var rest = instanceId.StartsWith("Microsoft:", StringComparison.OrdinalIgnoreCase) ? instanceId["Microsoft:".Length..] : instanceId;
        var end = rest.IndexOf('\\', StringComparison.Ordinal);
        return _vms.TryGetValue(end < 0 ? rest : rest[..end], out vm!);
    }

    private CimObject StartJob(string method, string description, Func<(ushort Code, string Description)?> complete, Action? revert)
    {
        var now = new CimDateTime(DateTimeOffset.UtcNow);
        var job = Add(new CimObject(CimSchema.Virtualization, "Msvm_ConcreteJob")
            .Set("InstanceID", Guid.NewGuid().ToString("D").ToUpperInvariant())
            .Set("Caption", method)
            .Set("Description", description)
            .Set("ElementName", method)
            .Set("JobState", 4)
            .Set("JobStatus", "Job is running")
            .Set("PercentComplete", 0)
            .Set("ErrorCode", 0)
            .Set("ErrorDescription", null)
            .Set("TimeSubmitted", now)
            .Set("StartTime", now)
            .Set("Cancellable", false)
            .Set("DeleteOnCompletion", false));
        var injected = Behavior.TakeFailure(method);
        var duration = Behavior.JobDuration;
        if (duration == Timeout.InfiniteTimeSpan)
        {
            return job;
        }

        RunLater(duration, () =>
        {
            var failure = injected is null ? complete() : (injected.ErrorCode, injected.Description);
            if (failure is { } f)
            {
                revert?.Invoke();

                job.Set("JobState", 10).Set("JobStatus", "Job failed").Set("ErrorCode", f.Code).Set("ErrorDescription", f.Description)
                    .Set("ErrorSummaryDescription", f.Description);
            }
            else
            {
                job.Set("JobState", 7).Set("JobStatus", "Job completed successfully").Set("PercentComplete", 100);
            }

            job.Set("TimeOfLastStateChange", new CimDateTime(DateTimeOffset.UtcNow));
            _finishedJobs.Enqueue(job);
            while (_finishedJobs.Count > MaxRetainedJobs)
            {
                var expired = _finishedJobs.Dequeue();
                _jobEffects.Remove(expired.GetString("InstanceID")!);
                Remove(expired);
            }
        });
        return job;
    }

    private void RunLater(TimeSpan delay, Action action) => _ = RunLaterAsync(delay, action);

    private async Task RunLaterAsync(TimeSpan delay, Action action)
    {
        try
        {
            await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        lock (_gate)
        {
            action();
        }
    }

    // ---------------------------------------------------------------- store

    private CimObject Add(CimObject instance)
    {
        if (!_objects.TryGetValue(instance.ClassName, out var list))
        {
            list = [];
            _objects[instance.ClassName] = list;
        }

        list.Add(instance);
        if (instance.GetString("InstanceID") is { } id)
        {
            _byInstanceId[id] = instance;
        }

        return instance;
    }

    private void Remove(CimObject instance)
    {
        if (_objects.TryGetValue(instance.ClassName, out var list))
        {
            list.Remove(instance);
        }

        if (instance.GetString("InstanceID") is { } id && _byInstanceId.TryGetValue(id, out var indexed) && ReferenceEquals(indexed, instance))
        {
            _byInstanceId.Remove(id);
        }
    }

    private IEnumerable<CimObject> AllOf(string className) =>
        _objects.Where(c => CimSchema.IsA(c.Key, className)).SelectMany(c => c.Value);

    private CimObject? Find(string className, IReadOnlyList<KeyValuePair<string, string>> selectors)
    {
        var keys = selectors.Where(s => !s.Key.StartsWith("__", StringComparison.Ordinal)).ToList();
        if (keys.Count == 0)
        {
            // A singleton may be addressed without selectors.
            var all = AllOf(className).Take(2).ToList();
            return all.Count == 1 ? all[0] : throw new WsManFaultException("wsman:InvalidSelectors", $"Selectors are required to address an instance of {className}.");
        }

        var schemaKeys = CimSchema.KeysOf(className);
        if (keys.Count == 1 && string.Equals(keys[0].Key, "InstanceID", StringComparison.OrdinalIgnoreCase))
        {
            return ByInstanceId(keys[0].Value, className);
        }

        if (CimSchema.IsA("Msvm_ComputerSystem", className) && keys.FirstOrDefault(k => string.Equals(k.Key, "Name", StringComparison.OrdinalIgnoreCase)).Value is { } name
            && _vms.TryGetValue(name, out var byName))
        {
            return keys.All(k => string.Equals(byName.System.GetString(k.Key), k.Value, StringComparison.OrdinalIgnoreCase)) ? byName.System : null;
        }

        foreach (var key in keys.Where(k => k.Key.Length > 0))
        {
            if (!schemaKeys.Contains(key.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new WsManFaultException("wsman:InvalidSelectors", $"'{key.Key}' is not a key of {className}.");
            }
        }

        return AllOf(className).FirstOrDefault(o => keys.All(k =>
            string.Equals(o.GetString(k.Key.Length == 0 ? schemaKeys[0] : k.Key), k.Value, StringComparison.OrdinalIgnoreCase)));
    }

    private IEnumerable<(string Association, CimObject Other)> Associated(CimObject source)
    {
        if (source.ClassName == "Msvm_ComputerSystem" && _vms.TryGetValue(source.GetString("Name")!, out var vm))
        {
            yield return ("Msvm_SettingsDefineState", vm.Settings);
            foreach (var snapshot in vm.Snapshots)
            {
                yield return ("Msvm_SnapshotOfVirtualSystem", snapshot);
            }

            if (vm.Shutdown is not null)
            {
                yield return ("Msvm_SystemDevice", vm.Shutdown);
            }
        }
        else if (source.ClassName == "Msvm_VirtualSystemSettingData")
        {
            if (_vms.TryGetValue(source.GetString("VirtualSystemIdentifier") ?? string.Empty, out var owner) && ReferenceEquals(owner.Settings, source))
            {
                foreach (var resource in owner.Resources)
                {
                    yield return ("Msvm_VirtualSystemSettingDataComponent", resource);
                }

                yield return ("Msvm_SettingsDefineState", owner.System);
            }
        }
        else if (CimSchema.IsA(source.ClassName, "CIM_ResourceAllocationSettingData") && VmOfInstanceId(source.GetString("InstanceID")!, out var parent))
        {
            yield return ("Msvm_VirtualSystemSettingDataComponent", parent.Settings);
        }
        else if (source.ClassName == "Msvm_ConcreteJob" && _jobEffects.TryGetValue(source.GetString("InstanceID")!, out var affected))
        {
            foreach (var element in affected.Where(e => _byInstanceId.TryGetValue(e.GetString("InstanceID")!, out var live) && ReferenceEquals(live, e)))
            {
                yield return ("Msvm_AffectedJobElement", element);
            }
        }
        else if (source.ClassName == "Msvm_ShutdownComponent" && _vms.TryGetValue(source.GetString("SystemName")!, out var system))
        {
            yield return ("Msvm_SystemDevice", system.System);
        }
    }

    private static void RequireClass(string className, string? wmiNamespace)
    {
        if (!CimSchema.IsKnown(className) || (wmiNamespace is not null && !string.Equals(CimSchema.NamespaceOf(className), wmiNamespace, StringComparison.OrdinalIgnoreCase)))
        {
            throw new WsManFaultException("wsa:DestinationUnreachable", $"Invalid class {className}.", 5);
        }
    }

    private static WsManFaultException NotFound(string className) =>
        new("wsa:DestinationUnreachable", $"No instance of {className} has these selectors.", 6);

    private void Refresh()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var vm in _vms.Values)
        {
            vm.System.Set("OnTimeInMilliseconds", vm.RunningSince is { } since ? (long)(now - since).TotalMilliseconds : 0);
        }

        var used = _vms.Values.Where(v => v.System.GetInt64("EnabledState") is 2 or 9 or 10 or 4).Sum(MemoryOf) + 2048 + Behavior.ReservedMemoryMiB;
        foreach (var os in AllOf("Win32_OperatingSystem"))
        {
            os.Set("FreePhysicalMemory", Math.Max(0, Options.MemoryMiB - used) * 1024);
        }

        var diskUsed = _files.Values.Sum(f => f.GetInt64("FileSize")) + (40L << 30);
        foreach (var disk in AllOf("Win32_LogicalDisk"))
        {
            disk.Set("FreeSpace", Math.Max(0, (Options.DiskGiB << 30) - diskUsed));
        }
    }

    private void AddFile(string path, long size) => _files[path] = Add(DataFile(path, size));

    private static CimObject DataFile(string path, long size) =>
        new CimObject(CimSchema.Cimv2, "CIM_DataFile").Set("Name", path).Set("FileSize", size)
            .Set("Extension", Path.GetExtension(path.Replace('\\', '/')).TrimStart('.'));

    /// <summary>Whether the host sees a file at <paramref name="path"/>: one of its own, or one in a shared directory.</summary>
    private bool HostFileExists(string path) => _files.ContainsKey(path) || SharedFile(path) is { Exists: true };

    private long SizeOf(string path) => _files.TryGetValue(path, out var file) ? file.GetInt64("FileSize") : SharedFile(path)!.Length;

    /// <summary>
    /// A host file is a virtual hard disk when the host made it, or when its bytes start with VHDX's file type
    /// identifier (<c>vhdxfile</c>) or end with a VHD footer (<c>conectix</c>).
    /// </summary>
    private bool IsVirtualHardDisk(string path)
    {
        if (_files.ContainsKey(path) || SharedFile(path) is not { Exists: true } shared)
        {
            return _files.ContainsKey(path);
        }

        try
        {
            using var stream = shared.OpenRead();
            var head = new byte[8];
            if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.AsSpan().SequenceEqual("vhdxfile"u8))
            {
                return true;
            }

            if (stream.Length < 512)
            {
                return false;
            }

            stream.Seek(-512, SeekOrigin.End);
            return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.AsSpan().SequenceEqual("conectix"u8);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The file of this machine behind <paramref name="path"/> when it lies in a shared directory, else null.</summary>
    private FileInfo? SharedFile(string path)
    {
        foreach (var (hostPath, localDirectory) in Options.SharedDirectories)
        {
            var prefix = hostPath.TrimEnd('\\') + "\\";
            if (!path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var parts = path[prefix.Length..].Split('\\');
            if (parts.Any(p => p is "" or "." or ".." || p.Contains('/', StringComparison.Ordinal)))
            {
                return null;
            }

            return new FileInfo(Path.Combine([localDirectory, .. parts]));
        }

        return null;
    }

    private void Seed()
    {
        var host = Options.HostName;
        Add(new CimObject(CimSchema.Virtualization, "Msvm_ComputerSystem")
            .Set("Caption", "Hosting Computer System")
            .Set("Description", "Microsoft Hosting Computer System")
            .Set("ElementName", host)
            .Set("Name", host)
            .Set("CreationClassName", "Msvm_ComputerSystem")
            .Set("EnabledState", 2)
            .Set("HealthState", 5));
        foreach (var service in new[]
        {
            ("Msvm_VirtualSystemManagementService", "vmms", "Virtual System Management Service"),
            ("Msvm_ImageManagementService", "vhdsvc", "Image Management Service"),
            ("Msvm_VirtualSystemSnapshotService", "vssnapsvc", "Virtual System Snapshot Service"),
        })
        {
            Add(new CimObject(CimSchema.Virtualization, service.Item1)
                .Set("Caption", service.Item3)
                .Set("ElementName", service.Item3)
                .Set("CreationClassName", service.Item1)
                .Set("Name", service.Item2)
                .Set("SystemCreationClassName", "Msvm_ComputerSystem")
                .Set("SystemName", host)
                .Set("EnabledState", 2)
                .Set("Started", true));
        }

        foreach (var name in Options.Switches)
        {
            Add(new CimObject(CimSchema.Virtualization, "Msvm_VirtualEthernetSwitch")
                .Set("Caption", "Virtual Switch")
                .Set("ElementName", name)
                .Set("CreationClassName", "Msvm_VirtualEthernetSwitch")
                .Set("Name", Guid.NewGuid().ToString("D").ToUpperInvariant())
                .Set("EnabledState", 2));
        }

        Add(new CimObject(CimSchema.Cimv2, "Win32_ComputerSystem")
            .Set("Name", host)
            .Set("Caption", host)
            .Set("Domain", "WORKGROUP")
            .Set("Manufacturer", "Hypervisors SDK")
            .Set("Model", "Hyper-V Simulator")
            .Set("NumberOfProcessors", 1)
            .Set("NumberOfLogicalProcessors", Options.LogicalProcessors)
            .Set("TotalPhysicalMemory", Options.MemoryMiB * 1024 * 1024)
            .Set("SystemType", "x64-based PC"));
        Add(new CimObject(CimSchema.Cimv2, "Win32_Processor")
            .Set("DeviceID", "CPU0")
            .Set("Name", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
            .Set("Manufacturer", "GenuineIntel")
            .Set("Architecture", 9)
            .Set("AddressWidth", 64)
            .Set("NumberOfCores", Options.Cores)
            .Set("NumberOfLogicalProcessors", Options.LogicalProcessors)
            .Set("MaxClockSpeed", 2000)
            .Set("SocketDesignation", "CPU0"));
        Add(new CimObject(CimSchema.Cimv2, "Win32_OperatingSystem")
            .Set("Name", @"Microsoft Windows Server 2022 Datacenter|C:\Windows|\Device\Harddisk0\Partition2")
            .Set("Caption", "Microsoft Windows Server 2022 Datacenter")
            .Set("Version", "10.0.20348")
            .Set("BuildNumber", "20348")
            .Set("CSName", host)
            .Set("OSArchitecture", "64-bit")
            .Set("TotalVisibleMemorySize", Options.MemoryMiB * 1024)
            .Set("FreePhysicalMemory", Options.MemoryMiB * 1024)
            .Set("LastBootUpTime", new CimDateTime(_bootTime)));
        Add(new CimObject(CimSchema.Cimv2, "Win32_LogicalDisk")
            .Set("DeviceID", "C:")
            .Set("DriveType", 3)
            .Set("FileSystem", "NTFS")
            .Set("Size", Options.DiskGiB << 30)
            .Set("FreeSpace", Options.DiskGiB << 30));
        foreach (var image in Options.ImageFiles)
        {
            AddFile(image, 10L << 30);
        }
    }
}
