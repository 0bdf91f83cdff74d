using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hypervisors.Agent.Client;

/// <summary>A driver the agent hosts.</summary>
/// <param name="Name">The driver's name in the agent's configuration (the <c>{driver}</c> path segment).</param>
/// <param name="Capabilities">What the driver supports.</param>
public sealed record DriverResource(string Name, DriverCapabilities Capabilities);

/// <summary>A host's resources and capabilities, as one driver reports them.</summary>
/// <param name="Driver">The driver's name.</param>
/// <param name="Host">Identity and resources.</param>
/// <param name="Capabilities">What the driver supports.</param>
public sealed record HostResource(string Driver, HostInfo Host, DriverCapabilities Capabilities);

/// <summary>The body of <c>PUT /v1/drivers/{driver}/instances/{id}</c>; the id comes from the path.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateInstanceRequest
{
    /// <summary>Display name, unique on the host.</summary>
    public required string Name { get; init; }

    /// <summary>Virtual CPUs.</summary>
    public required int VCpus { get; init; }

    /// <summary>Memory in MiB.</summary>
    public required long MemoryMiB { get; init; }

    /// <summary>Disks in boot order.</summary>
    public IReadOnlyList<DiskSpec>? Disks { get; init; }

    /// <summary>Network interfaces.</summary>
    public IReadOnlyList<NetworkInterfaceSpec>? NetworkInterfaces { get; init; }

    /// <summary>Direct kernel boot.</summary>
    public KernelBootSpec? KernelBoot { get; init; }

    /// <summary>Caller metadata.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Power on once defined.</summary>
    public bool StartAfterCreate { get; init; }

    /// <summary>The contract's spec for instance <paramref name="id"/>.</summary>
    public InstanceSpec ToSpec(Guid id) => new()
    {
        Id = id,
        Name = Name,
        VCpus = VCpus,
        MemoryMiB = MemoryMiB,
        Disks = Disks ?? [],
        NetworkInterfaces = NetworkInterfaces ?? [],
        KernelBoot = KernelBoot,
        Metadata = Metadata ?? new Dictionary<string, string>(),
        StartAfterCreate = StartAfterCreate,
    };
}

/// <summary>The body of <c>POST /v1/drivers/{driver}/instances/{id}/snapshots</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateSnapshotRequest
{
    /// <summary>The snapshot's name (letters, digits, '.', '-', '_'; unique per instance).</summary>
    public required string Name { get; init; }
}

/// <summary>Where an operation is in its life.</summary>
public enum OperationState
{
    /// <summary>Journaled, not finished; the driver may or may not have been called yet.</summary>
    Pending,

    /// <summary>Finished successfully (final).</summary>
    Succeeded,

    /// <summary>Finished with an error (final); <see cref="OperationResource.Error"/> says whether a retry may succeed.</summary>
    Failed,

    /// <summary>
    /// Cut off when the agent stopped before it finished (not final): the next start reconciles it with the
    /// hypervisor's real state and finishes it.
    /// </summary>
    Interrupted,
}

/// <summary>A mutating call, journaled before it reached the driver.</summary>
public sealed record OperationResource
{
    /// <summary>The operation id (the <c>{opId}</c> of <c>/v1/operations/{opId}</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The driver's name.</summary>
    public required string Driver { get; init; }

    /// <summary>The instance concerned.</summary>
    public required Guid InstanceId { get; init; }

    /// <summary>What it does: create, start, stop, power-off, reboot, pause, unpause, suspend, resume, delete, attach-volume, detach-volume, attach-interface, detach-interface, create-snapshot, delete-snapshot.</summary>
    public required string Kind { get; init; }

    /// <summary>Its state.</summary>
    public required OperationState State { get; init; }

    /// <summary>When it was accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The result: the instance for a create, the attachment for an attach; absent otherwise.</summary>
    public JsonElement? Result { get; init; }

    /// <summary>The failure, for <see cref="OperationState.Failed"/>.</summary>
    public AgentProblem? Error { get; init; }

    /// <summary>Whether it is in a final state.</summary>
    [JsonIgnore]
    public bool IsFinal => State is OperationState.Succeeded or OperationState.Failed;

    /// <summary>Reads <see cref="Result"/> as <typeparamref name="T"/>.</summary>
    public T? ResultAs<T>() => Result is { } element ? element.Deserialize<T>(AgentJson.Options) : default;
}

/// <summary>One page of <c>GET /v1/operations</c>.</summary>
public sealed record OperationListResource
{
    /// <summary>The operations, oldest first.</summary>
    public required IReadOnlyList<OperationResource> Items { get; init; }

    /// <summary>The <c>after</c> value for the next page, or null when this is the last page.</summary>
    public string? Next { get; init; }
}

/// <summary>An RFC 9457 problem, with the contract's error kind and whether a retry may succeed.</summary>
public sealed record AgentProblem
{
    /// <summary>A URI naming the problem type (<c>urn:hypervisors:problem:not-found</c>, ...).</summary>
    public string? Type { get; init; }

    /// <summary>A short summary of the problem type.</summary>
    public string? Title { get; init; }

    /// <summary>The HTTP status.</summary>
    public int? Status { get; init; }

    /// <summary>What happened this time.</summary>
    public string? Detail { get; init; }

    /// <summary>The request path.</summary>
    public string? Instance { get; init; }

    /// <summary>The contract's error kind.</summary>
    public HypervisorErrorKind Kind { get; init; }

    /// <summary>Whether the same request may succeed later.</summary>
    public bool Retryable { get; init; }

    /// <summary>The hypervisor's own error code, when there is one.</summary>
    public string? NativeCode { get; init; }

    /// <summary>The offending field, for <see cref="HypervisorErrorKind.InvalidSpec"/>.</summary>
    public string? Field { get; init; }
}

/// <summary>A lifecycle event as the agent journals it; <see cref="Id"/> is the SSE event id for resuming.</summary>
/// <param name="Id">Increasing event number.</param>
/// <param name="Driver">The driver's name.</param>
/// <param name="InstanceId">The instance.</param>
/// <param name="Kind">What happened.</param>
/// <param name="PowerState">The power state after it.</param>
/// <param name="Timestamp">When it was seen.</param>
/// <param name="Source">"driver" (the hypervisor's event stream), "agent" (an operation finished) or "sync" (the power state sync found drift).</param>
public sealed record AgentEvent(long Id, string Driver, Guid InstanceId, InstanceEventKind Kind, PowerState PowerState, DateTimeOffset Timestamp, string Source);
