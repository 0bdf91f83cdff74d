using System.Globalization;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;

namespace Hypervisors.HyperV;

public sealed partial class HyperVDriver
{
    private const string VirtualHardDisk = "Microsoft:Hyper-V:Virtual Hard Disk";
    private const string SyntheticDiskDrive = "Microsoft:Hyper-V:Synthetic Disk Drive";
    private const string SyntheticScsiController = "Microsoft:Hyper-V:Synthetic SCSI Controller";
    private const string SyntheticEthernetPort = "Microsoft:Hyper-V:Synthetic Ethernet Port";
    private const string EthernetConnection = "Microsoft:Hyper-V:Ethernet Connection";

    /// <inheritdoc />
    /// <remarks>
    /// Creates under a lock on the id and the name (Hyper-V itself allows two VMs of one name), decides from the index
    /// (loaded once) whether the id or the name is taken, and builds the returned info from what was set and what
    /// Hyper-V's jobs confirmed, without reading the VM back.
    /// </remarks>
    protected override async Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        await LoadIndexAsync(force: false, cancellationToken).ConfigureAwait(false);
        using (await _createLocks.AcquireAsync([spec.Id.ToString("D"), "name:" + spec.Name.ToUpperInvariant()], cancellationToken).ConfigureAwait(false))
        {
            if (_index.TryGetValue(spec.Id, out var existing))
            {
                return existing.Spec.Equals(spec)
                    ? await GetInstanceCoreAsync(spec.Id, cancellationToken).ConfigureAwait(false)
                    : throw new InstanceAlreadyExistsException($"Instance {spec.Id} exists with a different spec (name '{existing.Spec.Name}').") { InstanceId = spec.Id };
            }

            if (_index.Values.Any(e => string.Equals(e.Spec.Name, spec.Name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new InstanceAlreadyExistsException($"Another instance is named '{spec.Name}'.") { InstanceId = spec.Id };
            }

            string vmGuid;
            MarkCreating(spec.Id, creating: true);
            try
            {
                vmGuid = await DefineAsync(spec, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                MarkCreating(spec.Id, creating: false);
            }

            var state = PowerState.Shutdown;
            if (spec.StartAfterCreate)
            {
                try
                {
                    await RequestStateAsync(spec.Id, InstanceOperation.Start, HyperVStates.Enabled, cancellationToken).ConfigureAwait(false);
                    state = PowerState.Running;
                }
                catch (Exception ex) when (ex is WsManException or HypervisorException)
                {
                    // A refused create changes nothing: remove the VM this call defined (a full host refuses the start).
                    await DeleteAsync(spec.Id, CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
            }

            return new InstanceInfo(spec.Id, spec.Name, state, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero)
            {
                NativeId = vmGuid,
                Metadata = spec.Metadata,
            };
        }
    }

    private string DiskPath(InstanceSpec spec, int index) =>
        _options.DiskDirectory.TrimEnd('\\') + "\\" + spec.Name + "-" + spec.Id.ToString("N")[..8] + "\\disk" + index.ToString(CultureInfo.InvariantCulture) + ".vhdx";

    private async Task<string> DefineAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        // Check what the spec refers to before anything is made, so a bad spec leaves nothing behind.
        var switches = await ResolveSwitchesAsync(spec, cancellationToken).ConfigureAwait(false);
        var parents = await ResolveImagesAsync(spec, cancellationToken).ConfigureAwait(false);

        var service = await ServiceReferenceAsync("Msvm_VirtualSystemManagementService", cancellationToken).ConfigureAwait(false);
        var settings = new EmbeddedInstance("Msvm_VirtualSystemSettingData")
            .Set("ElementName", spec.Name)
            .SetArray("Notes", [InstanceNotes.Write(spec)])
            .Set("VirtualSystemSubType", "Microsoft:Hyper-V:SubType:" + _options.Generation.ToString(CultureInfo.InvariantCulture));
        var defined = await _wmi.InvokeAsync(service, "DefineSystem", [new("SystemSettings", settings)], cancellationToken).ConfigureAwait(false);
        var vmGuid = defined.GetReference("ResultingSystem")?.Selector("Name")
            ?? throw WsManException.Malformed("DefineSystem returned no ResultingSystem.");
        var createdDisks = new List<string>();
        try
        {
            await SizeAsync(service, vmGuid, spec, cancellationToken).ConfigureAwait(false);
            var configuration = WmiSession.Reference(WmiSession.Virtualization, "Msvm_VirtualSystemSettingData", ("InstanceID", "Microsoft:" + vmGuid));
            if (spec.Disks.Count > 0)
            {
                await AddDisksAsync(service, configuration, spec, parents, createdDisks, cancellationToken).ConfigureAwait(false);
            }

            if (spec.NetworkInterfaces.Count > 0)
            {
                await AddInterfacesAsync(service, configuration, spec.NetworkInterfaces, 0, switches, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WsManException or HypervisorException or OperationCanceledException)
        {
            await RollBackAsync(service, vmGuid, createdDisks).ConfigureAwait(false);
            throw;
        }

        _index[spec.Id] = new VmEntry(vmGuid, spec, PowerState.Shutdown);
        LogCreated(_logger, spec.Id, vmGuid);
        Observe(spec.Id, PowerState.Shutdown, created: true);
        return vmGuid;
    }

    private async Task SizeAsync(EndpointReference service, string vmGuid, InstanceSpec spec, CancellationToken cancellationToken)
    {
        var resources = await QueryResourcesAsync(vmGuid, "CIM_ResourceAllocationSettingData", cancellationToken).ConfigureAwait(false);
        var processor = resources.FirstOrDefault(r => r.ClassName == "Msvm_ProcessorSettingData")?["InstanceID"]
            ?? throw WsManException.Malformed("the new VM has no Msvm_ProcessorSettingData.");
        var memory = resources.FirstOrDefault(r => r.ClassName == "Msvm_MemorySettingData")?["InstanceID"]
            ?? throw WsManException.Malformed("the new VM has no Msvm_MemorySettingData.");
        var mib = (ulong)spec.MemoryMiB;
        await _wmi.InvokeAsync(service, "ModifyResourceSettings",
        [
            new("ResourceSettings", new[]
            {
                new EmbeddedInstance("Msvm_ProcessorSettingData").Set("InstanceID", processor).Set("VirtualQuantity", (ulong)spec.VCpus)
                    .Set("Reservation", 0UL).Set("Limit", 100000UL),
                new EmbeddedInstance("Msvm_MemorySettingData").Set("InstanceID", memory).Set("VirtualQuantity", mib)
                    .Set("Reservation", mib).Set("Limit", mib).Set("DynamicMemoryEnabled", false),
            }),
        ], cancellationToken).ConfigureAwait(false);
    }

    private async Task AddDisksAsync(EndpointReference service, EndpointReference configuration, InstanceSpec spec, IReadOnlyList<string?> parents, List<string> createdDisks, CancellationToken cancellationToken)
    {
        var imageService = await ServiceReferenceAsync("Msvm_ImageManagementService", cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            var path = DiskPath(spec, i);
            var vhd = new EmbeddedInstance("Msvm_VirtualHardDiskSettingData").Set("Path", path).SetUInt16("Format", 3);
            vhd = parents[i] is not { } parent
                ? vhd.SetUInt16("Type", 3).Set("MaxInternalSize", (ulong)disk.SizeGiB << 30)
                : vhd.SetUInt16("Type", 4).Set("ParentPath", parent);
            try
            {
                await _wmi.InvokeAsync(imageService, "CreateVirtualHardDisk", [new("VirtualDiskSettingData", vhd)], cancellationToken).ConfigureAwait(false);
            }
            catch (WsManException ex) when (parents[i] is not null && HyperVErrorTable.Means(ex, HypervisorErrorKind.NotFound))
            {
                // Hyper-V cannot open the parent (32779): an image share Hyper-V does not reach, or a file removed meanwhile.
                throw new InvalidSpecException($"spec.Disks[{i}].ImageRef", $"Hyper-V cannot open the parent image '{parents[i]}' ({ex.NativeCode}).");
            }

            createdDisks.Add(path);
        }

        var controller = await AddResourcesAsync(service, configuration,
            [new EmbeddedInstance("Msvm_ResourceAllocationSettingData").SetUInt16("ResourceType", 6).Set("ResourceSubType", SyntheticScsiController)],
            cancellationToken).ConfigureAwait(false);
        var controllerPath = Wql.ObjectPath(controller[0]);
        var drives = await AddResourcesAsync(service, configuration,
            spec.Disks.Select((_, i) => new EmbeddedInstance("Msvm_ResourceAllocationSettingData").SetUInt16("ResourceType", 17)
                .Set("ResourceSubType", SyntheticDiskDrive).Set("Parent", controllerPath).Set("AddressOnParent", i.ToString(CultureInfo.InvariantCulture))).ToList(),
            cancellationToken).ConfigureAwait(false);
        await AddResourcesAsync(service, configuration,
            drives.Select((drive, i) => new EmbeddedInstance("Msvm_StorageAllocationSettingData").SetUInt16("ResourceType", 31)
                .Set("ResourceSubType", VirtualHardDisk).Set("Parent", Wql.ObjectPath(drive)).SetArray("HostResource", [createdDisks[i]])).ToList(),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<EndpointReference>> AddInterfacesAsync(EndpointReference service, EndpointReference configuration, IReadOnlyList<NetworkInterfaceSpec> nics, int firstIndex, IReadOnlyList<string> switches, CancellationToken cancellationToken)
    {
        var ports = await AddResourcesAsync(service, configuration,
            nics.Select((nic, i) =>
            {
                var port = new EmbeddedInstance("Msvm_SyntheticEthernetPortSettingData").SetUInt16("ResourceType", 10)
                    .Set("ResourceSubType", SyntheticEthernetPort).Set("ElementName", PortName(firstIndex + i))
                    .SetArray("VirtualSystemIdentifiers", ["{" + Guid.NewGuid().ToString("D").ToUpperInvariant() + "}"])
                    .Set("StaticMacAddress", nic.MacAddress is not null);
                return nic.MacAddress is null ? port : port.Set("Address", InstanceSpecValidator.NormalizeMac(nic.MacAddress).Replace(":", string.Empty, StringComparison.Ordinal).ToUpperInvariant());
            }).ToList(),
            cancellationToken).ConfigureAwait(false);
        await AddResourcesAsync(service, configuration,
            ports.Select((port, i) => new EmbeddedInstance("Msvm_EthernetPortAllocationSettingData").SetUInt16("ResourceType", 33)
                .Set("ResourceSubType", EthernetConnection).Set("Parent", Wql.ObjectPath(port)).SetArray("HostResource", [switches[i]])).ToList(),
            cancellationToken).ConfigureAwait(false);
        return ports;
    }

    private async Task<IReadOnlyList<EndpointReference>> AddResourcesAsync(EndpointReference service, EndpointReference configuration, IReadOnlyList<EmbeddedInstance> resources, CancellationToken cancellationToken)
    {
        var output = await _wmi.InvokeAsync(service, "AddResourceSettings",
            [new("AffectedConfiguration", configuration), new("ResourceSettings", resources)], cancellationToken).ConfigureAwait(false);
        var added = output.GetReferences("ResultingResourceSettings");
        return added.Count == resources.Count ? added : throw WsManException.Malformed($"AddResourceSettings returned {added.Count} resources for {resources.Count}.");
    }

    /// <summary>The object path of each interface's virtual switch, by its ElementName; an unknown switch is a spec error.</summary>
    private Task<IReadOnlyList<string>> ResolveSwitchesAsync(InstanceSpec spec, CancellationToken cancellationToken) =>
        ResolveSwitchesAsync(spec.NetworkInterfaces, i => $"spec.NetworkInterfaces[{i}].Network", cancellationToken);

    private async Task<IReadOnlyList<string>> ResolveSwitchesAsync(IReadOnlyList<NetworkInterfaceSpec> nics, Func<int, string> field, CancellationToken cancellationToken)
    {
        if (nics.Count == 0)
        {
            return [];
        }

        var switches = await _wmi.QueryAsync(WmiSession.Virtualization, "SELECT CreationClassName, Name, ElementName FROM Msvm_VirtualEthernetSwitch", cancellationToken).ConfigureAwait(false);
        return nics.Select((nic, i) =>
        {
            var found = switches.FirstOrDefault(s => string.Equals(s["ElementName"], nic.Network, StringComparison.OrdinalIgnoreCase))
                ?? throw new InvalidSpecException(field(i), $"the host has no virtual switch named '{nic.Network}'.");
            return Wql.ObjectPath("Msvm_VirtualEthernetSwitch",
                new KeyValuePair<string, string>("CreationClassName", found["CreationClassName"] ?? "Msvm_VirtualEthernetSwitch"),
                new KeyValuePair<string, string>("Name", found["Name"] ?? string.Empty));
        }).ToList();
    }

    private async Task RollBackAsync(EndpointReference service, string vmGuid, IReadOnlyList<string> createdDisks)
    {
        // Best effort, on a fresh token: the create is failing or was cancelled, and must not leave a half-made VM.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await _wmi.InvokeAsync(service, "DestroySystem", [new("AffectedSystem", SystemReference(vmGuid))], timeout.Token).ConfigureAwait(false);
            await DeleteFilesAsync(createdDisks, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WsManException or OperationCanceledException)
        {
            LogRollbackFailed(_logger, vmGuid, ex);
        }
    }

    private async Task DeleteFilesAsync(IEnumerable<string> paths, CancellationToken cancellationToken)
    {
        foreach (var path in paths)
        {
            try
            {
                await _wmi.InvokeAsync(WmiSession.Reference(WmiSession.Cimv2, "CIM_DataFile", ("Name", path)), "Delete", [], cancellationToken).ConfigureAwait(false);
            }
            catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.NotFound))
            {
                // Already gone.
            }
        }
    }
}
