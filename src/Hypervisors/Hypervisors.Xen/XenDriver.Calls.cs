using System.Globalization;
using Hypervisors.Xen.Events;
using Hypervisors.Xen.Mapping;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen;

/// <summary>The driver's plumbing: calls, tasks, the instance index, create and destroy.</summary>
public sealed partial class XenDriver
{
    private const long MiBBytes = 1024L * 1024;

    /// <summary>
    /// Connects (once) and runs <paramref name="body"/>. Failures leave as the wire layer threw them; the base class
    /// hands them to <see cref="MapException"/>. A VM handle found invalid is dropped from the index on the way.
    /// </summary>
    private async Task<T> RunAsync<T>(Guid? instanceId, Func<CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
            return await body(cancellationToken).ConfigureAwait(false);
        }
        catch (XenApiFailureException ex) when (ex.Code == "HANDLE_INVALID" && instanceId is { } id
            && ex.Parameters.Count > 0 && ex.Parameters[0].Equals("VM", StringComparison.OrdinalIgnoreCase))
        {
            _refsById.TryRemove(id, out _);
            throw;
        }
    }

    /// <summary>Whether <paramref name="exception"/> is a failed call (wire or contract error, or a cancellation), as cleanup code catches them.</summary>
    private static bool IsCallFailure(Exception exception) =>
        exception is HypervisorException or OperationCanceledException || XenApiRpcClient.IsCallFailure(exception);

    /// <summary>A synchronous XenAPI call: one round trip, answered when the server has done the work.</summary>
    private Task<object?> CallAsync(string method, CancellationToken cancellationToken, params object?[] parameters) =>
        _session.CallAsync(method, cancellationToken, parameters);

    /// <summary>
    /// A synchronous call that a real host may take long to answer (a VM starting, suspending or resuming writes or
    /// reads its memory): one round trip like <see cref="CallAsync"/>, allowed <see cref="XenDriverOptions.TaskTimeout"/>
    /// beyond the request timeout. An <c>Async.</c> task would add at least three calls (create, poll, destroy).
    /// </summary>
    private Task<object?> LongCallAsync(string method, CancellationToken cancellationToken, params object?[] parameters) =>
        _session.CallAsync(method, parameters, _options.TaskTimeout, cancellationToken);

    /// <summary>Resolves the instance's VM and makes one long synchronous call on it.</summary>
    private Task VmCallAsync(Guid instanceId, string method, CancellationToken cancellationToken, params object?[] extra) =>
        RunAsync(instanceId, async ct =>
        {
            var vmRef = await ResolveAsync(instanceId, ct).ConfigureAwait(false);
            await LongCallAsync(method, ct, [vmRef, .. extra]).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Runs <c>Async.</c><paramref name="method"/> as a XenAPI task and returns its result. Only for operations that
    /// are long on a real host and worth cancelling there (storage copies: VM.snapshot, VM.clone, VDI.clone, ...).
    /// </summary>
    private async Task<object?> RunTaskAsync(string method, CancellationToken cancellationToken, params object?[] parameters)
    {
        var outcome = await RunTaskWithTimeoutAsync(method, _options.TaskTimeout, cancellationToken, parameters).ConfigureAwait(false);
        return outcome.Finished
            ? outcome.Result
            : throw new HypervisorTimeoutException($"XenAPI task {method} did not finish within {_options.TaskTimeout}.");
    }

    /// <summary>The wait before the first poll of a task: about what a short task takes on a real host.</summary>
    internal static readonly TimeSpan FirstTaskPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two polls of a task.</summary>
    internal static readonly TimeSpan MaxTaskPoll = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Starts <c>Async.</c><paramref name="method"/>, polls <c>task.get_record</c> after <see cref="FirstTaskPoll"/>
    /// and then with doubling waits, destroys the task, and returns its result. On <paramref name="timeout"/> it cancels
    /// the task (<c>task.cancel</c>) and reports it unfinished instead of throwing.
    /// </summary>
    private async Task<(bool Finished, object? Result)> RunTaskWithTimeoutAsync(string method, TimeSpan timeout, CancellationToken cancellationToken, params object?[] parameters)
    {
        var taskRef = XenValue.ToText(await CallAsync("Async." + method, cancellationToken, parameters).ConfigureAwait(false));
        try
        {
            Dictionary<string, object?> task;
            using (var deadline = new CancellationTokenSource(timeout, TimeProvider))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token, _lifetime.Token))
            {
                try
                {
                    task = await PollTaskAsync(taskRef, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    await BestEffortAsync("task.cancel", taskRef).ConfigureAwait(false);
                    return (false, null);
                }
            }

            return XenValue.ToText(task.GetValueOrDefault("status")) switch
            {
                "success" => (true, DecodeTaskResult(XenValue.ToText(task.GetValueOrDefault("result")))),
                "failure" => throw XenApiFailureException.FromDescription(task.GetValueOrDefault("error_info")),
                _ => throw new XenApiFailureException("TASK_CANCELLED", [taskRef]),
            };
        }
        finally
        {
            await BestEffortAsync("task.destroy", taskRef).ConfigureAwait(false);
        }
    }

    /// <summary>Polls a task until it leaves <c>pending</c>/<c>cancelling</c>, waiting longer after each poll.</summary>
    private async Task<Dictionary<string, object?>> PollTaskAsync(string taskRef, CancellationToken cancellationToken)
    {
        for (var wait = FirstTaskPoll; ; wait = wait * 2 < MaxTaskPoll ? wait * 2 : MaxTaskPoll)
        {
            await Task.Delay(wait, TimeProvider, cancellationToken).ConfigureAwait(false);
            var task = XenValue.ToStruct(await CallAsync("task.get_record", cancellationToken, taskRef).ConfigureAwait(false));
            if (XenValue.ToText(task.GetValueOrDefault("status")) is not ("pending" or "cancelling"))
            {
                return task;
            }
        }
    }

    private object? DecodeTaskResult(string result) =>
        result.StartsWith("<value", StringComparison.Ordinal) ? XmlRpcReader.ReadValueText(result, _options.Limits)
        : result.Length == 0 ? null
        : result;

    private async Task BestEffortAsync(string method, string reference)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout);
            await CallAsync(method, timeout.Token, reference).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsCallFailure(ex))
        {
            // Cleanup only: the server drops finished tasks itself after a while.
        }
    }

    /// <summary>
    /// Once per driver, on first use: takes an event token and loads the instance index from one
    /// <c>VM.get_all_records</c> (the first call also logs in). The index makes an id created earlier, by this or
    /// another client, known before a create decides whether it is new; the token lets a watch started later report
    /// everything since. The event loop itself runs only once somebody watches.
    /// </summary>
    private Task EnsureReadyAsync(CancellationToken cancellationToken) =>
        OnceAsync(() => _ready, async ct =>
        {
            Reindex(await _events.PrimeAsync(ct).ConfigureAwait(false));
            _ready = true;
        }, cancellationToken);

    /// <summary>Starts the event loop once, on the first watch: the driver sends no <c>event.from</c> long poll while nobody watches.</summary>
    private Task EnsureWatchingAsync(CancellationToken cancellationToken) =>
        OnceAsync(() => _watching, async ct =>
        {
            await _events.StartAsync(ct).ConfigureAwait(false);
            _watching = true;
        }, cancellationToken);

    /// <summary>Runs <paramref name="action"/> under the driver's one-time gate unless <paramref name="done"/> already says it ran.</summary>
    private async Task OnceAsync(Func<bool> done, Func<CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        if (done())
        {
            return;
        }

        await _readyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!done())
            {
                await action(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _readyGate.Release();
        }
    }

    /// <summary>Keeps the index current from what the event loop sees.</summary>
    private void OnRefSeen(Guid instanceId, string vmRef, bool present)
    {
        if (present)
        {
            _refsById[instanceId] = vmRef;
        }
        else
        {
            _refsById.TryRemove(new KeyValuePair<Guid, string>(instanceId, vmRef));
        }
    }

    /// <summary>Maps every tagged VM's id to its reference from one <c>VM.get_all_records</c>, dropping ids whose VM is gone.</summary>
    private async Task LoadIndexAsync(CancellationToken cancellationToken) =>
        Reindex(XenValue.ToStruct(await CallAsync("VM.get_all_records", cancellationToken).ConfigureAwait(false)));

    /// <summary>Maps every tagged VM's id in <paramref name="records"/> (all VMs) to its reference; returns the tagged ones.</summary>
    private List<(Guid Id, string Ref, Dictionary<string, object?> Record)> Reindex(Dictionary<string, object?> records)
    {
        var tagged = new List<(Guid, string, Dictionary<string, object?>)>();
        foreach (var (vmRef, value) in records)
        {
            var record = XenValue.ToStruct(value);
            if (VmRecords.TryGetInstanceId(record, out var id))
            {
                tagged.Add((id, vmRef, record));
                _refsById[id] = vmRef;
            }
        }

        foreach (var (id, vmRef) in _refsById)
        {
            if (!records.ContainsKey(vmRef))
            {
                _refsById.TryRemove(new KeyValuePair<Guid, string>(id, vmRef));
            }
        }

        return tagged;
    }

    /// <summary>The VM reference of an instance; reloads the index once when the id is unknown.</summary>
    private async Task<string> ResolveAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        if (_refsById.TryGetValue(instanceId, out var vmRef))
        {
            return vmRef;
        }

        await LoadIndexAsync(cancellationToken).ConfigureAwait(false);
        return _refsById.TryGetValue(instanceId, out vmRef) ? vmRef : throw new InstanceNotFoundException(instanceId);
    }

    private async Task<InstanceInfo> CreateAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        string vmRef;
        using (await _createLocks.AcquireAsync(["id:" + spec.Id.ToString("D"), "name:" + spec.Name], cancellationToken).ConfigureAwait(false))
        {
            if (_refsById.TryGetValue(spec.Id, out var existingRef))
            {
                var existing = await TryGetRecordAsync(existingRef, cancellationToken).ConfigureAwait(false);
                if (existing is not null)
                {
                    return spec.Equals(VmRecords.StoredSpec(existing))
                        ? VmRecords.ToInstanceInfo(spec.Id, existingRef, existing)
                        : throw new InstanceAlreadyExistsException($"Instance {spec.Id} already exists with a different spec.") { InstanceId = spec.Id };
                }

                _refsById.TryRemove(spec.Id, out _);
            }

            foreach (var sameName in XenValue.ToStringArray(await CallAsync("VM.get_by_name_label", cancellationToken, spec.Name).ConfigureAwait(false)))
            {
                var other = await TryGetRecordAsync(sameName, cancellationToken).ConfigureAwait(false);
                if (other is not null && !IsTrue(other, "is_a_template") && !IsTrue(other, "is_a_snapshot"))
                {
                    throw new InstanceAlreadyExistsException($"Another VM is already named '{spec.Name}'.") { InstanceId = spec.Id };
                }
            }

            vmRef = _options.TemplateName is null
                ? XenValue.ToText(await CallAsync("VM.create", cancellationToken, VmRecords.NewVmRecord(spec)).ConfigureAwait(false))
                : await CloneTemplateAsync(spec, cancellationToken).ConfigureAwait(false);
            _refsById[spec.Id] = vmRef;
        }

        try
        {
            await AddDisksAsync(spec, vmRef, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < spec.NetworkInterfaces.Count; i++)
            {
                await CreateVifAsync(vmRef, spec.NetworkInterfaces[i], i.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            }

            if (spec.StartAfterCreate)
            {
                await LongCallAsync("VM.start", cancellationToken, vmRef, false, false).ConfigureAwait(false);
            }

            // What was set and confirmed: no read-back.
            return VmRecords.ToInstanceInfo(spec, vmRef, spec.StartAfterCreate ? PowerState.Running : PowerState.Shutdown);
        }
        catch (Exception ex) when (IsCallFailure(ex))
        {
            LogRollback(_logger, ex, spec.Id);
            try
            {
                using var timeout = new CancellationTokenSource(_options.RequestTimeout);
                var record = XenValue.ToStruct(await CallAsync("VM.get_record", timeout.Token, vmRef).ConfigureAwait(false));
                if (VmRecords.PowerStateOf(record) != PowerState.Shutdown)
                {
                    await CallAsync("VM.hard_shutdown", timeout.Token, vmRef).ConfigureAwait(false);
                }

                await DestroyVmAsync(spec.Id, vmRef, record, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception cleanup) when (IsCallFailure(cleanup))
            {
                // The original failure is what the caller needs; the VM is left for a later delete.
            }

            throw;
        }
    }

    private async Task<Dictionary<string, object?>?> TryGetRecordAsync(string vmRef, CancellationToken cancellationToken)
    {
        try
        {
            return XenValue.ToStruct(await CallAsync("VM.get_record", cancellationToken, vmRef).ConfigureAwait(false));
        }
        catch (XenApiFailureException ex) when (ex.Code == "HANDLE_INVALID")
        {
            return null;
        }
    }

    private async Task<string> CloneTemplateAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        var template = await FindByNameOrUuidAsync("VM", _options.TemplateName!, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidSpecException("XenDriverOptions.TemplateName", $"no template '{_options.TemplateName}' exists.");
        var vmRef = XenValue.ToText(await RunTaskAsync("VM.clone", cancellationToken, template, spec.Name).ConfigureAwait(false));
        await RunTaskAsync("VM.provision", cancellationToken, vmRef).ConfigureAwait(false);
        await CallAsync("VM.set_is_a_template", cancellationToken, vmRef, false).ConfigureAwait(false);
        var memory = (spec.MemoryMiB * MiBBytes).ToString(CultureInfo.InvariantCulture);
        await CallAsync("VM.set_memory_limits", cancellationToken, vmRef, memory, memory, memory, memory).ConfigureAwait(false);
        var current = XenValue.ToInt64(await CallAsync("VM.get_VCPUs_at_startup", cancellationToken, vmRef).ConfigureAwait(false));
        var vcpus = spec.VCpus.ToString(CultureInfo.InvariantCulture);
        if (spec.VCpus > current)
        {
            await CallAsync("VM.set_VCPUs_max", cancellationToken, vmRef, vcpus).ConfigureAwait(false);
            await CallAsync("VM.set_VCPUs_at_startup", cancellationToken, vmRef, vcpus).ConfigureAwait(false);
        }
        else
        {
            await CallAsync("VM.set_VCPUs_at_startup", cancellationToken, vmRef, vcpus).ConfigureAwait(false);
            await CallAsync("VM.set_VCPUs_max", cancellationToken, vmRef, vcpus).ConfigureAwait(false);
        }

        var config = XenValue.ToStringMap(await CallAsync("VM.get_other_config", cancellationToken, vmRef).ConfigureAwait(false));
        foreach (var (key, value) in VmRecords.OtherConfig(spec))
        {
            config[key] = value;
        }

        await CallAsync("VM.set_other_config", cancellationToken, vmRef, config).ConfigureAwait(false);
        return vmRef;
    }

    private async Task AddDisksAsync(InstanceSpec spec, string vmRef, CancellationToken cancellationToken)
    {
        if (spec.Disks.Count == 0)
        {
            return;
        }

        // A VM made by VM.create has no VBDs yet; only a template's clone brings its own, whose slots stay taken.
        var used = new HashSet<long>();
        if (_options.TemplateName is not null)
        {
            foreach (var vbdRef in XenValue.ToStringArray(await CallAsync("VM.get_VBDs", cancellationToken, vmRef).ConfigureAwait(false)))
            {
                used.Add(XenValue.ToInt64(await CallAsync("VBD.get_userdevice", cancellationToken, vbdRef).ConfigureAwait(false)));
            }
        }

        var sr = await GetStorageRepositoryAsync(cancellationToken).ConfigureAwait(false);
        var slot = 0;
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            var disk = spec.Disks[i];
            var bytes = disk.SizeGiB * GiB;
            var marker = new Dictionary<string, string> { [VmRecords.InstanceIdKey] = spec.Id.ToString("D") };
            string vdiRef;
            if (disk.ImageRef is null)
            {
                vdiRef = XenValue.ToText(await CallAsync("VDI.create", cancellationToken, VdiRecord($"{spec.Name}-disk{i}", sr, bytes, marker)).ConfigureAwait(false));
            }
            else if (HostPathPolicy.IsHostPath(disk.ImageRef))
            {
                vdiRef = await ImportImageDiskAsync(spec, i, sr, marker, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var source = await FindByNameOrUuidAsync("VDI", disk.ImageRef, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidSpecException($"spec.Disks[{i}].ImageRef", $"no VDI named or with UUID '{disk.ImageRef}' exists.");
                vdiRef = XenValue.ToText(await RunTaskAsync("VDI.clone", cancellationToken, source, new Dictionary<string, string>()).ConfigureAwait(false));
                await CallAsync("VDI.set_name_label", cancellationToken, vdiRef, $"{spec.Name}-disk{i}").ConfigureAwait(false);
                marker[ImageRefKey] = disk.ImageRef;
                await CallAsync("VDI.set_other_config", cancellationToken, vdiRef, marker).ConfigureAwait(false);
                if (XenValue.ToInt64(await CallAsync("VDI.get_virtual_size", cancellationToken, vdiRef).ConfigureAwait(false)) < bytes)
                {
                    await LongCallAsync("VDI.resize", cancellationToken, vdiRef, bytes.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                }
            }

            while (used.Contains(slot))
            {
                slot++;
            }

            used.Add(slot);
            await CallAsync("VBD.create", cancellationToken, VbdRecord(vmRef, vdiRef, slot, bootable: i == 0, "RW", [])).ConfigureAwait(false);
        }
    }

    private async Task<string> CreateVifAsync(string vmRef, NetworkInterfaceSpec nic, string device, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var (name, network) = await ResolveNetworkAsync(nic, cancellationToken).ConfigureAwait(false);
            try
            {
                return XenValue.ToText(await CallAsync("VIF.create", cancellationToken, new Dictionary<string, object?>(StringComparer.Ordinal)
                {
                    ["device"] = device,
                    ["network"] = network,
                    ["VM"] = vmRef,
                    ["MAC"] = nic.MacAddress is null ? string.Empty : InstanceSpecValidator.NormalizeMac(nic.MacAddress),
                    ["MTU"] = "1500",
                    ["other_config"] = new Dictionary<string, string>(),
                    ["qos_algorithm_type"] = string.Empty,
                    ["qos_algorithm_params"] = new Dictionary<string, string>(),
                    ["locking_mode"] = "network_default",
                    ["ipv4_allowed"] = Array.Empty<string>(),
                    ["ipv6_allowed"] = Array.Empty<string>(),
                }).ConfigureAwait(false));
            }
            catch (XenApiFailureException ex) when (attempt == 0 && ex.Code == "HANDLE_INVALID"
                && ex.Parameters.Count > 1 && ex.Parameters[0].Equals("network", StringComparison.OrdinalIgnoreCase) && ex.Parameters[1] == network)
            {
                // The network was replaced since it was looked up: forget it and look it up once more.
                ForgetNetwork(name, network);
            }
        }
    }

    /// <summary>The network an interface joins (the one it names, else <see cref="XenDriverOptions.Network"/>), with the name it was found by.</summary>
    private async Task<(string Name, string Ref)> ResolveNetworkAsync(NetworkInterfaceSpec nic, CancellationToken cancellationToken)
    {
        if (await FindNetworkAsync(nic.Network, cancellationToken).ConfigureAwait(false) is { } named)
        {
            return (nic.Network, named);
        }

        if (_options.Network is { } fallback && await FindNetworkAsync(fallback, cancellationToken).ConfigureAwait(false) is { } found)
        {
            return (fallback, found);
        }

        throw new InvalidSpecException("networkInterface.Network", $"no XenAPI network named or with UUID '{nic.Network}' exists.");
    }

    /// <summary>
    /// A network's reference by name or UUID, looked up once per driver: concurrent callers share one lookup, and the
    /// answer is kept until a call finds the reference invalid (<see cref="ForgetNetwork"/>). A miss or a failed lookup
    /// is not kept, so a network created later is found.
    /// </summary>
    private async Task<string?> FindNetworkAsync(string nameOrUuid, CancellationToken cancellationToken) =>
        (await _networkRefs.RunAsync(nameOrUuid, name => FindByNameOrUuidAsync("network", name, _lifetime.Token), cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>Drops the kept reference of <paramref name="nameOrUuid"/> if it still is <paramref name="staleRef"/>.</summary>
    private void ForgetNetwork(string nameOrUuid, string staleRef) =>
        _networkRefs.Forget(nameOrUuid, kept => kept == staleRef);

    /// <summary>
    /// Destroys a halted VM and the VDIs the driver made for it (every VDI, for a snapshot, whose disks are its own
    /// copies). XenAPI's <c>VM.destroy</c> destroys the VM's VBDs and VIFs with it; the VDIs outlive it, so they are
    /// found (<c>VBD.get_VDI</c>, <c>VDI.get_other_config</c> for the owner mark) before and destroyed after.
    /// </summary>
    private async Task DestroyVmAsync(Guid instanceId, string vmRef, Dictionary<string, object?> record, CancellationToken cancellationToken, bool ownsAllDisks = false)
    {
        var id = instanceId.ToString("D");
        var owned = new List<string>();
        foreach (var vbdRef in XenValue.ToStringArray(XenValue.Member(record, "VBDs")))
        {
            await IgnoreMissingAsync(async () =>
            {
                var vdiRef = XenValue.ToText(await CallAsync("VBD.get_VDI", cancellationToken, vbdRef).ConfigureAwait(false));
                if (vdiRef != XenValue.NullRef && vdiRef.Length > 0
                    && (ownsAllDisks || XenValue.ToStringMap(await CallAsync("VDI.get_other_config", cancellationToken, vdiRef).ConfigureAwait(false))
                        .GetValueOrDefault(VmRecords.InstanceIdKey) == id))
                {
                    owned.Add(vdiRef);
                }
            }).ConfigureAwait(false);
        }

        await CallAsync("VM.destroy", cancellationToken, vmRef).ConfigureAwait(false);
        _refsById.TryRemove(new KeyValuePair<Guid, string>(instanceId, vmRef));
        foreach (var vdiRef in owned)
        {
            await IgnoreMissingAsync(() => CallAsync("VDI.destroy", cancellationToken, vdiRef)).ConfigureAwait(false);
        }
    }

    private static async Task IgnoreMissingAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (XenApiFailureException ex) when (ex.Code == "HANDLE_INVALID")
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Plugs a VBD or VIF the caller has just created into a running guest; when the plug fails (a guest without PV
    /// drivers: VM_MISSING_PV_DRIVERS), destroys the record again so the refused attach changes nothing.
    /// </summary>
    private async Task PlugOrRemoveAsync(string deviceClass, string deviceRef, CancellationToken cancellationToken)
    {
        try
        {
            await CallAsync(deviceClass + ".plug", cancellationToken, deviceRef).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsCallFailure(ex))
        {
            try
            {
                using var timeout = new CancellationTokenSource(_options.RequestTimeout);
                await CallAsync(deviceClass + ".destroy", timeout.Token, deviceRef).ConfigureAwait(false);
            }
            catch (Exception cleanup) when (IsCallFailure(cleanup))
            {
                LogHotplugCleanupFailed(_logger, cleanup, deviceClass, deviceRef);
            }

            throw;
        }
    }

    private async Task<bool> TryCleanShutdownAsync(string vmRef, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            var (finished, _) = await RunTaskWithTimeoutAsync("VM.clean_shutdown", timeout, cancellationToken, vmRef).ConfigureAwait(false);
            return finished;
        }
        catch (XenApiFailureException ex) when (ex.Code == "VM_BAD_POWER_STATE" && ex.Parameters.Count > 2)
        {
            return XenPowerStates.Parse(ex.Parameters[2]) == PowerState.Shutdown;
        }
        catch (XenApiFailureException ex) when (ex.Code is "VM_LACKS_FEATURE" or "VM_MISSING_PV_DRIVERS" or "VM_LACKS_FEATURE_SHUTDOWN" or "TASK_CANCELLED" or "VM_SHUTDOWN_TIMEOUT")
        {
            return false;
        }
    }

    private async Task<string> GetStorageRepositoryAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _srRef) is { } cached)
        {
            return cached;
        }

        string sr;
        if (_options.StorageRepository is { } name)
        {
            sr = await FindByNameOrUuidAsync("SR", name, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidSpecException("XenDriverOptions.StorageRepository", $"no SR named or with UUID '{name}' exists.");
        }
        else
        {
            var pool = XenValue.ToStringArray(await CallAsync("pool.get_all", cancellationToken).ConfigureAwait(false)).FirstOrDefault()
                ?? throw new HypervisorException("The XenAPI server lists no pool.");
            sr = XenValue.ToText(await CallAsync("pool.get_default_SR", cancellationToken, pool).ConfigureAwait(false));
            if (sr == XenValue.NullRef)
            {
                throw new HypervisorException("The pool has no default SR; set XenDriverOptions.StorageRepository.");
            }
        }

        Volatile.Write(ref _srRef, sr);
        return sr;
    }

    private async Task<(long Total, long Used)> GetStorageAsync(CancellationToken cancellationToken)
    {
        try
        {
            var sr = XenValue.ToStruct(await CallAsync("SR.get_record", cancellationToken, await GetStorageRepositoryAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false));
            return (XenValue.ToInt64(XenValue.Member(sr, "physical_size")), XenValue.ToInt64(XenValue.Member(sr, "physical_utilisation")));
        }
        catch (HypervisorException)
        {
            // No SR the driver can use: the host reports no disk totals rather than failing.
            return (0, 0);
        }
    }

    /// <summary>Finds an object of <paramref name="xenClass"/> by UUID or <c>name_label</c>; null when there is none.</summary>
    private async Task<string?> FindByNameOrUuidAsync(string xenClass, string nameOrUuid, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(nameOrUuid, out _))
        {
            try
            {
                return XenValue.ToText(await CallAsync(xenClass + ".get_by_uuid", cancellationToken, nameOrUuid).ConfigureAwait(false));
            }
            catch (XenApiFailureException ex) when (ex.Code is "UUID_INVALID" or "HANDLE_INVALID")
            {
                // Fall through to the name: a name may look like a UUID.
            }
        }

        return XenValue.ToStringArray(await CallAsync(xenClass + ".get_by_name_label", cancellationToken, nameOrUuid).ConfigureAwait(false)).FirstOrDefault();
    }
}
