using System.Text.Json;
using System.Text.Json.Nodes;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Operations;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Amqp;

/// <summary>A command refused with a problem of the agent's own (not a driver's exception).</summary>
internal sealed class CommandRefusedException(AgentProblem problem) : Exception(problem.Detail)
{
    public AgentProblem Problem { get; } = problem;
}

/// <summary>What a command comes to: a result, or a failure in the agent's problem form.</summary>
internal sealed record CommandOutcome(JsonNode? Result, AgentProblem? Problem);

/// <summary>
/// The RPC methods the agent serves over AMQP. A mutating command is journaled through
/// <see cref="OperationService"/> with the message's id as its idempotency key before
/// <see cref="AcceptAsync"/> returns (so the message may then be acknowledged); its outcome follows when the
/// operation is final. Arguments are oslo.messaging keyword arguments in snake_case.
/// </summary>
internal sealed class AmqpCommandHandler(
    OperationService operations,
    IHypervisorDriverRegistry registry,
    AmqpCallIndex callIndex,
    TimeProvider time,
    IOptions<AmqpAgentOptions> options)
{
    /// <summary>The methods that change nothing and may be answered without journaling.</summary>
    public static IReadOnlySet<string> ReadOnlyMethods => FleetTopology.ReadOnlyMethods;

    /// <summary>
    /// Accepts the command: read-only methods run now; mutating ones are journaled. The returned task completes
    /// with the outcome. Throws <see cref="HypervisorException"/> when the command is refused (nothing journaled).
    /// </summary>
    public async Task<Task<CommandOutcome>> AcceptAsync(RpcRequest request, string messageKey, CancellationToken cancellationToken)
    {
        var args = request.Arguments;
        switch (request.Method)
        {
            case "ping":
                return Done(new JsonObject { ["host"] = options.Value.EffectiveHost, ["time"] = time.GetUtcNow() });
            case "list_drivers":
                return Done(new JsonArray([.. registry.Names.Select(name => (JsonNode)name)]));
            case "get_host":
                return Done(ToJson(await operations.GetDriver(Text(args, "driver")).GetHostInfoAsync(cancellationToken).ConfigureAwait(false)));
            case "list_instances":
                return Done(ToJson(await operations.GetDriver(Text(args, "driver")).ListInstancesAsync(cancellationToken).ConfigureAwait(false)));
            case "get_instance":
                return Done(ToJson(await operations.GetDriver(Text(args, "driver")).GetInstanceAsync(Id(args), cancellationToken).ConfigureAwait(false)));
            case "get_operation":
                return Done(await FindOperationAsync(Text(args, "operation_id"), args, cancellationToken).ConfigureAwait(false));
            case "get_call_result":
                var operationId = callIndex.Find(Text(args, "message_id"))
                    ?? throw NotFound("call-not-found", $"No command with message id '{Text(args, "message_id")}' was accepted by this agent.");
                return Done(await FindOperationAsync(operationId, args, cancellationToken).ConfigureAwait(false));
            default:
                if (callIndex.Find(messageKey) is { } known)
                {
                    // A redelivered command (its agent stopped before acknowledging it): the operation it started
                    // answers, and nothing is done again (a create whose instance has gone since would otherwise be
                    // a new create).
                    return KnownOutcomeAsync(known, cancellationToken);
                }

                var submitted = await SubmitAsync(request.Method, args, messageKey, cancellationToken).ConfigureAwait(false);
                callIndex.Record(messageKey, submitted.Operation.Id, time.GetUtcNow());
                return OutcomeAsync(submitted);
        }
    }

    private async Task<SubmittedOperation> SubmitAsync(string method, JsonObject args, string messageKey, CancellationToken cancellationToken)
    {
        var driver = Text(args, "driver");
        var key = "amqp:" + messageKey;
        switch (method)
        {
            case "create_instance":
                var body = args["spec"] is JsonObject spec
                    ? spec.Deserialize<CreateInstanceRequest>(AgentJson.Options) ?? throw new InvalidSpecException("spec", "is required.")
                    : throw new InvalidSpecException("spec", "is required and must be an object.");
                return await operations.SubmitCreateAsync(driver, body.ToSpec(Id(args)), cancellationToken).ConfigureAwait(false);
            case "delete_instance":
                return await operations.SubmitAsync(driver, Id(args), OperationKinds.Delete, new OperationRequest(), key).ConfigureAwait(false);
            case "stop_instance":
                var timeout = args["timeout_seconds"] is JsonValue seconds ? TimeSpan.FromSeconds(seconds.GetValue<double>()) : TimeSpan.FromMinutes(1);
                if (timeout < TimeSpan.Zero || timeout > TimeSpan.FromHours(1))
                {
                    throw new InvalidSpecException("timeout_seconds", "must be between 0 and 3600.");
                }

                return await operations.SubmitAsync(driver, Id(args), OperationKinds.Stop, new OperationRequest { TimeoutMs = (long)timeout.TotalMilliseconds }, key).ConfigureAwait(false);
            case "reboot_instance":
                var kind = OptionalText(args, "kind") switch
                {
                    null or "soft" => RebootKind.Soft,
                    "hard" => RebootKind.Hard,
                    var other => throw new InvalidSpecException("kind", $"'{other}' is not soft or hard."),
                };
                return await operations.SubmitAsync(driver, Id(args), OperationKinds.Reboot, new OperationRequest { RebootKind = kind }, key).ConfigureAwait(false);
            default:
                var action = PowerAction(method)
                    ?? throw new InvalidSpecException("method", $"'{method}' is not a method of the compute agent.");
                return await operations.SubmitAsync(driver, Id(args), action, new OperationRequest(), key).ConfigureAwait(false);
        }
    }

    private async Task<CommandOutcome> OutcomeAsync(SubmittedOperation submitted)
    {
        var operation = submitted.Operation;
        try
        {
            operation = await submitted.Completion.WaitAsync(options.Value.MaxCallWait, time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Still running: the caller gets the pending operation and may ask again with get_operation.
        }

        return Outcome(operation);
    }

    private async Task<CommandOutcome> KnownOutcomeAsync(string operationId, CancellationToken cancellationToken)
    {
        var operation = await operations.WaitAsync(operationId, options.Value.MaxCallWait, cancellationToken).ConfigureAwait(false);
        return operation is null
            ? new CommandOutcome(null, NotFound("operation-not-found", $"No operation {operationId} (pruned since).").Problem)
            : Outcome(operation);
    }

    private async Task<JsonNode?> FindOperationAsync(string operationId, JsonObject args, CancellationToken cancellationToken)
    {
        var wait = args["wait_seconds"] is JsonValue seconds ? TimeSpan.FromSeconds(Math.Clamp(seconds.GetValue<double>(), 0, options.Value.MaxCallWait.TotalSeconds)) : TimeSpan.Zero;
        var operation = await operations.WaitAsync(operationId, wait, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound("operation-not-found", $"No operation {operationId}.");
        var outcome = Outcome(operation);
        return outcome.Problem is null ? outcome.Result : ToJson(operation.ToResource());
    }

    private static CommandOutcome Outcome(StoredOperation operation) =>
        operation.State == OperationState.Failed && operation.Error is { } problem
            ? new CommandOutcome(null, problem)
            : new CommandOutcome(ToJson(operation.ToResource()), null);

    private static string? PowerAction(string method) => method switch
    {
        "start_instance" => OperationKinds.Start,
        "pause_instance" => OperationKinds.Pause,
        "unpause_instance" => OperationKinds.Unpause,
        "suspend_instance" => OperationKinds.Suspend,
        "resume_instance" => OperationKinds.Resume,
        _ => null,
    };

    private static CommandRefusedException NotFound(string slug, string detail) => new(new AgentProblem
    {
        Type = Problems.TypeUri(slug),
        Title = "Not found",
        Status = 404,
        Detail = detail,
        Kind = HypervisorErrorKind.NotFound,
    });

    private static Task<CommandOutcome> Done(JsonNode? result) => Task.FromResult(new CommandOutcome(result, null));

    private static JsonNode? ToJson<T>(T value) => JsonSerializer.SerializeToNode(value, AgentJson.Options);

    private static string Text(JsonObject args, string name) =>
        OptionalText(args, name) ?? throw new InvalidSpecException(name, "is required.");

    private static string? OptionalText(JsonObject args, string name) => args[name] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => throw new InvalidSpecException(name, "must be a string."),
    };

    private static Guid Id(JsonObject args) =>
        Guid.TryParse(Text(args, "instance_id"), out var id) ? id : throw new InvalidSpecException("instance_id", "is not a UUID.");
}
