using Hypervisors.Libvirt.Mapping;
using Hypervisors.Libvirt.Native;
using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt;

/// <summary>Listing, create, the power operations and delete.</summary>
public sealed partial class LibvirtDriver
{
    private const uint UndefineFlags = VirConstants.UndefineManagedSave | VirConstants.UndefineSnapshotsMetadata;

    /// <inheritdoc />
    protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.ListInstances, null, ListAll, cancellationToken);

    /// <summary>One <c>virConnectListAllDomains</c>, then per domain its UUID, name and <c>virDomainGetInfo</c>; records come from the cache.</summary>
    private unsafe IReadOnlyList<InstanceInfo> ListAll(LibvirtSession session)
    {
        var count = LibvirtNative.ConnectListAllDomains(session.Connection, out var domains, 0);
        Check(count, "virConnectListAllDomains");
        var result = new List<InstanceInfo>(count);
        Span<byte> uuid = stackalloc byte[16];
        var next = 0;
        try
        {
            for (; next < count; next++)
            {
                var domain = domains[next];
                if (LibvirtNative.DomainGetInfo(domain, out var info) < 0)
                {
                    // Undefined between the listing and this call.
                    LibvirtNative.ResetLastError();
                    continue;
                }

                fixed (byte* p = uuid)
                {
                    Check(LibvirtNative.DomainGetUuid(domain, p), "virDomainGetUUID");
                }

                var id = new Guid(uuid, bigEndian: true);
                var state = info.State;
                if (state == VirConstants.DomainPaused && LibvirtNative.DomainGetState(domain, out var stateNow, out var reason, 0) == 0)
                {
                    // Paused while starting up is a start in progress: running as far as anyone asked. The state is
                    // read again, so a start that finished between the two calls is not taken for a pause.
                    state = (byte)(stateNow == VirConstants.DomainPaused && reason == VirConstants.PausedStartingUp ? VirConstants.DomainRunning : stateNow);
                }

                var managedSave = false;
                if (state == VirConstants.DomainShutoff)
                {
                    var has = LibvirtNative.DomainHasManagedSaveImage(domain, 0);
                    Check(has, "virDomainHasManagedSaveImage");
                    managedSave = has == 1;
                }

                InstanceRecord? record;
                try
                {
                    record = Record(id, domain);
                }
                catch (LibvirtCallException ex) when (ex.Error.Code == LibvirtErrorMap.NoDomain)
                {
                    LibvirtNative.DomainFree(domain);
                    continue;
                }

                var name = LibvirtNative.ReadString(LibvirtNative.DomainGetName(domain)) ?? string.Empty;
                result.Add(ToInfo(id, name, info, DomainStateMap.ToPowerState(state, managedSave), record));
                LibvirtNative.DomainFree(domain);
            }
        }
        finally
        {
            for (var i = next; i < count; i++)
            {
                LibvirtNative.DomainFree(domains[i]);
            }

            LibvirtNative.FreeString((IntPtr)domains);
        }

        return result;
    }

    /// <inheritdoc />
    protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeAsync(InstanceOperation.GetInstance, instanceId, session => ReadInstance(session, instanceId), cancellationToken);

    private InstanceInfo ReadInstance(LibvirtSession session, Guid id)
    {
        var domain = session.Domain(id);
        var (info, power) = ReadState(domain);
        var record = Record(id, domain);
        var name = record?.Spec.Name ?? LibvirtNative.ReadString(LibvirtNative.DomainGetName(domain)) ?? string.Empty;
        return ToInfo(id, name, info, power, record);
    }

    /// <inheritdoc />
    protected override async Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        using (await _instanceLocks.AcquireAsync(spec.Id, cancellationToken).ConfigureAwait(false))
        {
            var owned = Own(spec);
            var layout = PlanFiles(owned);
            if (layout.InstanceDirectory is null)
            {
                // Nothing to put on disk: look up and define in one hop.
                return await NativeAsync(InstanceOperation.Create, spec.Id, session => ExistingInstance(session, owned) ?? Define(session, layout), cancellationToken)
                    .ConfigureAwait(false);
            }

            var existing = await NativeAsync(InstanceOperation.Create, spec.Id, session => ExistingInstance(session, owned), cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                return existing;
            }

            await CreateFilesAsync(layout, cancellationToken).ConfigureAwait(false);
            try
            {
                return await NativeAsync(InstanceOperation.Create, spec.Id, session => Define(session, layout), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogCreateRolledBack(_logger, ex, spec.Id);
                DeleteFiles(layout);
                throw;
            }
        }
    }

    /// <summary>A copy of the caller's spec that later changes to their lists and maps cannot reach.</summary>
    private static InstanceSpec Own(InstanceSpec spec) => spec with
    {
        Disks = [.. spec.Disks],
        NetworkInterfaces = [.. spec.NetworkInterfaces],
        Metadata = new Dictionary<string, string>(spec.Metadata, StringComparer.Ordinal),
    };

    /// <summary>The existing instance for a repeated create with an equal spec, null when there is none; throws when the id is taken by something else.</summary>
    private InstanceInfo? ExistingInstance(LibvirtSession session, InstanceSpec spec)
    {
        if (!session.TryDomain(spec.Id, out var domain, out var error))
        {
            return error!.Code == LibvirtErrorMap.NoDomain ? null : throw new LibvirtCallException("virDomainLookupByUUID", error);
        }

        var record = Record(spec.Id, domain);
        if (record is null || !record.Spec.Equals(spec))
        {
            throw new InstanceAlreadyExistsException($"Instance {spec.Id} already exists with a different spec.") { InstanceId = spec.Id };
        }

        var (info, power) = ReadState(domain);
        return ToInfo(spec.Id, record.Spec.Name, info, power, record);
    }

    private InstanceInfo Define(LibvirtSession session, InstanceRecord record)
    {
        ArraySegment<byte> xml;
        try
        {
            xml = DomainXmlBuilder.BuildUtf8(record, _shape);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidSpecException("spec", "holds a character that XML cannot carry: " + ex.Message);
        }

        var domain = LibvirtNative.DomainDefineXml(session.Connection, xml);
        if (domain.IsInvalid)
        {
            var error = LibvirtError.Capture("virDomainDefineXML");
            domain.Dispose();
            if (error.Code is LibvirtErrorMap.OperationFailed or LibvirtErrorMap.DomExist && NameTaken(session, record.Spec.Name))
            {
                throw new InstanceAlreadyExistsException($"Another instance is named '{record.Spec.Name}'.", new LibvirtCallException("virDomainDefineXML", error))
                {
                    InstanceId = record.Spec.Id,
                    NativeCode = LibvirtErrorMap.NameOf(error.Code),
                };
            }

            throw new LibvirtCallException("virDomainDefineXML", error);
        }

        domain = session.Remember(record.Spec.Id, domain);
        _records[record.Spec.Id] = record;
        LogDefined(_logger, record.Spec.Id, record.Spec.Name);
        var spec = record.Spec;
        var state = PowerState.Shutdown;
        if (spec.StartAfterCreate)
        {
            Check(LibvirtNative.DomainCreate(domain), "virDomainCreate");
            state = PowerState.Running;
        }

        return new InstanceInfo(spec.Id, spec.Name, state, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero) { NativeId = record.NativeId, Metadata = spec.Metadata };
    }

    private static bool NameTaken(LibvirtSession session, string name)
    {
        using var other = LibvirtNative.DomainLookupByName(session.Connection, name);
        LibvirtNative.ResetLastError();
        return !other.IsInvalid;
    }

    /// <inheritdoc />
    protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeActionAsync(InstanceOperation.Start, instanceId, session =>
        {
            var domain = session.Domain(instanceId);

            // libvirt would restore a managed-save image here; the contract's start does not resume a suspended instance.
            if (HasManagedSave(domain))
            {
                throw new InvalidPowerStateException(instanceId, InstanceOperation.Start, PowerState.Suspended);
            }

            Check(LibvirtNative.DomainCreate(domain), "virDomainCreate");
        }, cancellationToken);

    /// <inheritdoc />
    protected override Task RequestShutdownCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeActionAsync(InstanceOperation.Stop, instanceId, session => Check(LibvirtNative.DomainShutdown(session.Domain(instanceId)), "virDomainShutdown"), cancellationToken);

    /// <inheritdoc />
    protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        NativeActionAsync(InstanceOperation.PowerOff, instanceId, session => Check(LibvirtNative.DomainDestroy(session.Domain(instanceId)), "virDomainDestroy"), cancellationToken);

    /// <inheritdoc />
    protected override async Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken)
    {
        var operation = kind == RebootKind.Soft ? InstanceOperation.SoftReboot : InstanceOperation.HardReboot;
        var restarted = false;
        await NativeActionAsync(operation, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            var state = EnsureState(domain, instanceId, operation);
            if (kind == RebootKind.Soft)
            {
                Check(LibvirtNative.DomainReboot(domain, 0), "virDomainReboot");
                return;
            }

            if (state == PowerState.Crashed)
            {
                // A crashed domain has no CPU to reset: Nova's hard reboot, destroy and start again.
                Check(LibvirtNative.DomainDestroy(domain), "virDomainDestroy");
                Check(LibvirtNative.DomainCreate(domain), "virDomainCreate");
                restarted = true;
                return;
            }

            Check(LibvirtNative.DomainReset(domain, 0), "virDomainReset");
            if (state == PowerState.Paused)
            {
                Check(LibvirtNative.DomainResume(domain), "virDomainResume");
            }
        }, cancellationToken).ConfigureAwait(false);

        // A reset or guest reboot keeps the domain running, so libvirt reports no lifecycle event for it (only its
        // separate reboot event); the contract's watchers still learn the instance began running again.
        if (!restarted)
        {
            PublishOwnEvent(new InstanceEvent(instanceId, InstanceEventKind.Started, PowerState.Running, TimeProvider.GetUtcNow()));
        }
    }

    /// <inheritdoc />
    protected override Task PauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        FromAllowedStateAsync(InstanceOperation.Pause, instanceId, LibvirtNative.DomainSuspend, "virDomainSuspend", cancellationToken);

    /// <inheritdoc />
    protected override Task UnpauseInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        FromAllowedStateAsync(InstanceOperation.Unpause, instanceId, LibvirtNative.DomainResume, "virDomainResume", cancellationToken);

    /// <inheritdoc />
    protected override Task SuspendInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        FromAllowedStateAsync(InstanceOperation.Suspend, instanceId, d => LibvirtNative.DomainManagedSave(d, 0), "virDomainManagedSave", cancellationToken);

    /// <inheritdoc />
    /// <remarks>Starting a domain that has a managed-save image restores it.</remarks>
    protected override Task ResumeInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) =>
        FromAllowedStateAsync(InstanceOperation.Resume, instanceId, LibvirtNative.DomainCreate, "virDomainCreate", cancellationToken);

    /// <summary>
    /// Checks the state first, for operations libvirt would also accept from states the contract refuses
    /// (virDomainSuspend of a paused domain succeeds, a managed save of a paused one too), then calls libvirt.
    /// </summary>
    private Task FromAllowedStateAsync(InstanceOperation operation, Guid instanceId, Func<SafeDomainHandle, int> call, string name, CancellationToken cancellationToken) =>
        NativeActionAsync(operation, instanceId, session =>
        {
            var domain = session.Domain(instanceId);
            EnsureState(domain, instanceId, operation);
            Check(call(domain), name);
        }, cancellationToken);

    /// <inheritdoc />
    protected override async Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        using (await _instanceLocks.AcquireAsync(instanceId, cancellationToken).ConfigureAwait(false))
        {
            var record = await NativeAsync(InstanceOperation.Delete, instanceId, session => Undefine(session, instanceId), cancellationToken).ConfigureAwait(false);
            LogUndefined(_logger, instanceId);
            if (record is not null)
            {
                DeleteFiles(record);
            }
        }
    }

    private InstanceRecord? Undefine(LibvirtSession session, Guid id)
    {
        var domain = session.Domain(id);
        var record = Record(id, domain);
        Check(LibvirtNative.DomainGetInfo(domain, out var info), "virDomainGetInfo");
        if (info.State != VirConstants.DomainShutoff && LibvirtNative.DomainDestroy(domain) < 0)
        {
            var error = LibvirtError.Capture("virDomainDestroy");
            if (error.Code != LibvirtErrorMap.OperationInvalid)
            {
                // OPERATION_INVALID: it stopped on its own meanwhile, which is what we wanted.
                throw new LibvirtCallException("virDomainDestroy", error);
            }
        }

        var destroyed = info.State != VirConstants.DomainShutoff;
        if (LibvirtNative.DomainUndefineFlags(domain, UndefineFlags) < 0)
        {
            // A transient domain (one created without a definition) is gone once destroyed.
            var error = LibvirtError.Capture("virDomainUndefineFlags");
            if (!destroyed || error.Code != LibvirtErrorMap.NoDomain)
            {
                throw new LibvirtCallException("virDomainUndefineFlags", error);
            }
        }

        session.Forget(id);
        _records.TryRemove(id, out _);
        return record;
    }
}
