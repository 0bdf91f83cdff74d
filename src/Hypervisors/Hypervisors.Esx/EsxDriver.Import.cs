using System.Globalization;
using System.Xml.Linq;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Esx;

/// <summary>
/// OVF import the way vSphere does it: <c>OvfManager.CreateImportSpec</c> turns the descriptor into an import spec,
/// <c>ResourcePool.ImportVApp</c> creates the VM and an <c>HttpNfcLease</c>, the package's files go to the lease's
/// device URLs, and the lease is completed. The VM then gets the instance id (<c>instanceUuid</c> and extraConfig),
/// so it is an instance like any other. A failure aborts the lease and removes the VM: nothing is left.
/// </summary>
public sealed partial class EsxDriver
{
    private static readonly TimeSpan LeaseReadyTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Imports <paramref name="import"/>'s package as the instance <see cref="EsxOvfImport.Spec"/> names (shut down).</summary>
    /// <exception cref="InvalidSpecException">vSphere refuses the descriptor, or a network or file is missing.</exception>
    /// <exception cref="InstanceAlreadyExistsException">The id or the name is taken.</exception>
    public async Task<InstanceInfo> ImportOvfAsync(EsxOvfImport import, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(import);
        ThrowIfDisposed();
        InstanceSpecValidator.Validate(import.Spec);
        if (string.IsNullOrWhiteSpace(import.OvfDescriptor))
        {
            throw new InvalidSpecException("import.OvfDescriptor", "is empty.");
        }

        var context = new OperationContext(InstanceOperation.Create, import.Spec.Id);
        try
        {
            return await CallAsync(() => ImportCoreAsync(import, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not HypervisorException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw MapException(ex, context);
        }
    }

    private async Task<InstanceInfo> ImportCoreAsync(EsxOvfImport import, CancellationToken cancellationToken)
    {
        var spec = import.Spec;
        using var claimed = await _createLocks.AcquireAsync(["id:" + spec.Id.ToString("N"), "name:" + spec.Name], cancellationToken).ConfigureAwait(false);
        if (_vms.ContainsKey(spec.Id) || (_options.VerifyNewIdsOnServer && await FindAsync(spec.Id, cancellationToken).ConfigureAwait(false) is not null))
        {
            throw new InstanceAlreadyExistsException($"Instance {spec.Id} already exists.") { InstanceId = spec.Id };
        }

        await EnsureNameIsFreeAsync(spec, cancellationToken).ConfigureAwait(false);
        var networks = import.NetworkMapping.ToDictionary(m => m.Key, m => CheckNetwork(m.Value, $"import.NetworkMapping[{m.Key}]"), StringComparer.Ordinal);
        var placement = Current;
        var managers = await GetManagersAsync(cancellationToken).ConfigureAwait(false);
        var ovfManager = managers.OvfManager ?? throw new OperationNotSupportedException(HypervisorType, InstanceOperation.Create, "the endpoint has no OvfManager.");
        var result = await _client.InvokeAsync("CreateImportSpec", ovfManager, w =>
        {
            w.Element("ovfDescriptor", import.OvfDescriptor).Ref("resourcePool", placement.ResourcePool).Ref("datastore", placement.Datastore);
            w.Start("cisp").Element("locale", string.Empty).Element("deploymentOption", import.DeploymentOption ?? string.Empty).Element("entityName", spec.Name);
            foreach (var (name, network) in networks)
            {
                w.Start("networkMapping").Element("name", name).Ref("network", network).End();
            }

            foreach (var (key, value) in import.Properties)
            {
                w.Start("propertyMapping").Element("key", key).Element("value", value).End();
            }

            w.End();
        }, r => r.Child("returnval") ?? throw new VimFaultException("InvalidResponse", "CreateImportSpec returned nothing."), cancellationToken).ConfigureAwait(false);

        var errors = result.Children("error").Select(e => e.ChildText("localizedMessage") ?? e.Child("fault")?.XsiType() ?? "error").ToList();
        if (errors.Count > 0)
        {
            throw new InvalidSpecException("import.OvfDescriptor", "vSphere refused the descriptor: " + string.Join("; ", errors));
        }

        var importSpec = result.Child("importSpec") ?? throw new VimFaultException("InvalidResponse", "CreateImportSpec returned no import spec.");
        var files = result.Children("fileItem")
            .Select(f => (DeviceId: f.ChildText("deviceId") ?? string.Empty, Path: f.ChildText("path") ?? string.Empty, Size: f.ChildLong("size", -1), Create: f.ChildText("create") == "true"))
            .ToList();
        var lease = await _client.InvokeAsync("ImportVApp", placement.ResourcePool, w =>
        {
            w.Start("spec", importSpec.XsiType() ?? "VirtualMachineImportSpec");
            foreach (var child in importSpec.Elements())
            {
                w.Raw(child);
            }

            w.End().Ref("folder", placement.Folder);
        }, r => r.Child("returnval")?.AsRef() ?? throw new VimFaultException("InvalidResponse", "ImportVApp returned no lease."), cancellationToken).ConfigureAwait(false);

        ManagedObjectReference? vm = null;
        try
        {
            var info = await WaitForLeaseAsync(lease, cancellationToken).ConfigureAwait(false);
            var entity = info.ChildRef("entity") ?? throw new VimFaultException("InvalidResponse", "The import lease names no VM.");
            vm = entity;
            var urls = info.Children("deviceUrl").Where(d => d.ChildText("importKey") is not null)
                .ToDictionary(d => d.ChildText("importKey")!, d => (Url: d.ChildText("url") ?? string.Empty, Disk: d.ChildText("disk") == "true"), StringComparer.Ordinal);
            for (var i = 0; i < files.Count; i++)
            {
                var item = files[i];
                if (!urls.TryGetValue(item.DeviceId, out var device))
                {
                    throw new VimFaultException("InvalidResponse", $"The import lease has no device URL for {item.DeviceId}.");
                }

                var stream = await import.OpenFile(item.Path, cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    var length = stream.CanSeek ? stream.Length - stream.Position : item.Size;
                    var (method, type) = device.Disk ? (HttpMethod.Post, "application/x-vnd.vmware-streamVmdk") : (HttpMethod.Put, "application/octet-stream");
                    await _client.UploadAsync(method, _client.LeaseDeviceUrl(device.Url), stream, length, type, cancellationToken).ConfigureAwait(false);
                }

                var percent = (int)((i + 1) * 100L / files.Count);
                await _client.InvokeAsync("HttpNfcLeaseProgress", lease, w => w.Element("percent", percent), _ => true, cancellationToken).ConfigureAwait(false);
                LogImportFileSent(_logger, spec.Id, item.Path, percent);
            }

            await _client.InvokeAsync("HttpNfcLeaseComplete", lease, null, _ => true, cancellationToken).ConfigureAwait(false);
            var record = VmRecord.Read(await _client.RetrieveObjectAsync(entity, VmRecord.Paths, cancellationToken).ConfigureAwait(false));
            var stored = spec with { VCpus = Math.Max(1, record.VCpus), MemoryMiB = Math.Max(1, record.MemoryMiB) };
            await ReconfigureAsync(entity, w =>
            {
                w.Element("instanceUuid", spec.Id.ToString("D"));
                VmConfigWriter.WriteExtraConfig(w, VmRecord.IdKey, spec.Id.ToString("D"));
                VmConfigWriter.WriteExtraConfig(w, VmRecord.SpecKey, InstanceSpecEnvelope.Serialize(stored));
            }, cancellationToken).ConfigureAwait(false);
            _vms[spec.Id] = (entity, _client.SessionGeneration);
            _names[spec.Name] = spec.Id;
            LogImported(_logger, spec.Id, entity.Value, files.Count);
            return new InstanceInfo(spec.Id, spec.Name, PowerState.Shutdown, stored.VCpus, stored.MemoryMiB, TimeSpan.Zero) { NativeId = entity.Value, Metadata = spec.Metadata };
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex) || ex is HypervisorException)
        {
            await UndoImportQuietlyAsync(lease, vm).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits until the lease is ready (its info then holds the device URLs) or has failed.</summary>
    private async Task<XElement> WaitForLeaseAsync(ManagedObjectReference lease, CancellationToken cancellationToken)
    {
        var deadline = TimeProvider.GetUtcNow() + LeaseReadyTimeout;
        while (true)
        {
            var content = await _client.RetrieveObjectAsync(lease, ["state", "info", "error"], cancellationToken).ConfigureAwait(false);
            switch (content.Text("state"))
            {
                case "ready":
                    return content.Properties.GetValueOrDefault("info") ?? throw new VimFaultException("InvalidResponse", "A ready lease has no info.");
                case "error":
                    var fault = content.Properties.GetValueOrDefault("error");
                    throw new VimFaultException(fault?.Child("fault")?.XsiType() ?? "ImportFailed", fault?.ChildText("localizedMessage") ?? "The import lease failed.");
                case "done":
                    throw new VimFaultException("InvalidResponse", "The import lease ended before the files were sent.");
            }

            if (TimeProvider.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"The import lease was not ready within {LeaseReadyTimeout}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task UndoImportQuietlyAsync(ManagedObjectReference lease, ManagedObjectReference? vm)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _client.InvokeAsync("HttpNfcLeaseAbort", lease, null, _ => true, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex))
        {
            // A lease that ended already cannot be aborted.
        }

        if (vm is not { } created)
        {
            return;
        }

        try
        {
            await RunTaskAsync("Destroy_Task", created, null, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (VimClient.IsCallFailure(ex))
        {
            LogImportLeftVm(_logger, ex, created.Value);
        }
    }

    [LoggerMessage(EventId = 3033, EventName = "EsxImportFileSent", Level = LogLevel.Debug, Message = "Import of instance {InstanceId}: sent {File} ({Percent} %).")]
    private static partial void LogImportFileSent(ILogger logger, Guid instanceId, string file, int percent);

    [LoggerMessage(EventId = 3034, EventName = "EsxImported", Level = LogLevel.Information, Message = "Imported instance {InstanceId} as VM {Vm} ({Files} files sent).")]
    private static partial void LogImported(ILogger logger, Guid instanceId, string vm, int files);

    [LoggerMessage(EventId = 3035, EventName = "EsxImportLeftVm", Level = LogLevel.Warning, Message = "A failed import could not remove VM {Vm}.")]
    private static partial void LogImportLeftVm(ILogger logger, Exception exception, string vm);
}
