using System.Text.Json;
using Hypervisors.Agent.Client;

namespace Hypervisors.Agent.Operations;

/// <summary>The inputs of an operation, journaled with it so it can be re-driven after a crash.</summary>
internal sealed record OperationRequest
{
    public InstanceSpec? Spec { get; init; }

    public long? TimeoutMs { get; init; }

    public RebootKind? RebootKind { get; init; }

    public VolumeSpec? Volume { get; init; }

    public string? VolumeId { get; init; }

    public NetworkInterfaceSpec? Interface { get; init; }

    public string? MacAddress { get; init; }

    public string? SnapshotName { get; init; }

    public string? SnapshotId { get; init; }
}

/// <summary>An operation as the journal holds it.</summary>
internal sealed record StoredOperation(
    string Id,
    string? IdempotencyKey,
    string Driver,
    Guid InstanceId,
    string Kind,
    OperationRequest Request,
    OperationState State,
    string? ResultJson,
    AgentProblem? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public bool IsFinal => State is OperationState.Succeeded or OperationState.Failed;

    public OperationResource ToResource()
    {
        JsonElement? result = null;
        if (ResultJson is not null)
        {
            using var document = JsonDocument.Parse(ResultJson);
            result = document.RootElement.Clone();
        }

        return new OperationResource
        {
            Id = Id,
            Driver = Driver,
            InstanceId = InstanceId,
            Kind = Kind,
            State = State,
            CreatedAt = CreatedAt,
            UpdatedAt = UpdatedAt,
            Result = result,
            Error = Error,
        };
    }
}
