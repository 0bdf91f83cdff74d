using System.Globalization;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Operations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Api;

/// <summary>
/// The /v1 resources: drivers, hosts, instances, their actions and devices, and operations. Every parameter of a
/// mutating call is parsed and validated before anything is journaled; each route declares only the parameters it
/// takes and its answers (202 with the operation, problems), so the OpenAPI document matches what runs.
/// </summary>
internal static class InstanceEndpoints
{
    /// <summary>The largest page of <c>GET /v1/operations</c>.</summary>
    public const int MaxPageSize = 500;

    public static void MapInstanceApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");

        v1.MapGet("/drivers", (IHypervisorDriverRegistry registry) =>
                registry.Names.Select(name => new DriverResource(name, registry.Get(name).Capabilities)).ToList())
            .WithName("ListDrivers").WithSummary("The drivers the agent hosts, with their capabilities.").Calls("Capabilities")
            .Produces<List<DriverResource>>().ProducesCommonProblems();

        v1.MapGet("/drivers/{driver}/host", async (string driver, OperationService operations, CancellationToken cancellationToken) =>
            {
                var instance = operations.GetDriver(driver);
                return new HostResource(driver, await instance.GetHostInfoAsync(cancellationToken).ConfigureAwait(false), instance.Capabilities);
            })
            .Calls(nameof(IHypervisorDriver.GetHostInfoAsync))
            .WithName("GetHost").WithSummary("The host's identity, resources (total, used, free) and the driver's capabilities.")
            .Produces<HostResource>().ProducesCommonProblems(404);

        var instances = v1.MapGroup("/drivers/{driver}/instances");

        instances.MapGet("/", async (string driver, OperationService operations, InstanceListCache cache, CancellationToken cancellationToken) =>
                new InstanceListResult(await cache.GetAsync(driver, operations.GetDriver(driver), cancellationToken).ConfigureAwait(false)))
            .Produces<IReadOnlyList<InstanceInfo>>().ProducesCommonProblems(404)
            .Calls(nameof(IHypervisorDriver.ListInstancesAsync))
            .WithName("ListInstances").WithSummary("Every instance of the driver, with power state and size (reused until the next change, at most Agent:ListCacheTtl old).");

        instances.MapGet("/{id}", (string driver, string id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetInstanceAsync(ParseId(id), cancellationToken))
            .Produces<InstanceInfo>().ProducesCommonProblems(400, 404)
            .Calls(nameof(IHypervisorDriver.GetInstanceAsync))
            .WithName("GetInstance").WithSummary("One instance.");

        instances.MapPut("/{id}", async (string driver, string id, CreateInstanceRequest body, string? wait, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var spec = body.ToSpec(ParseId(id));
                return await RespondAsync(await operations.SubmitCreateAsync(driver, spec, context.RequestAborted).ConfigureAwait(false), waitFor, context).ConfigureAwait(false);
            })
            .Accepts<CreateInstanceRequest>("application/json").ProducesOperation(409)
            .Calls(nameof(IHypervisorDriver.CreateInstanceAsync))
            .WithName("CreateInstance")
            .WithSummary("Creates the instance with the caller's id; idempotent: a repeat with the same spec returns the same operation and instance.");

        instances.MapDelete("/{id}", async (string driver, string id, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.Delete, new OperationRequest(), idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409)
            .Calls(nameof(IHypervisorDriver.DeleteInstanceAsync))
            .WithName("DeleteInstance").WithSummary("Powers off if needed and removes the instance.");

        foreach (var action in OperationKinds.PowerActions.Where(a => a is not (OperationKinds.Stop or OperationKinds.Reboot)))
        {
            instances.MapPost("/{id}/" + action, async (string driver, string id, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
                    HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
                {
                    var waitFor = ParseWait(wait, options.Value);
                    var instanceId = ParseId(id);
                    return await SubmitAsync(operations, driver, instanceId, action, new OperationRequest(), idempotencyKey, waitFor, context).ConfigureAwait(false);
                })
                .ProducesOperation(409, 501)
                .Calls(ContractMethod(action))
                .WithName(OperationName(action)).WithSummary(action == OperationKinds.PowerOff ? "Powers the instance off at once (no guest shutdown)." : $"Runs '{action}' on the instance.");
        }

        instances.MapPost("/{id}/" + OperationKinds.Stop, async (string driver, string id, string? wait, string? timeout, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
                HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                var request = new OperationRequest
                {
                    TimeoutMs = (long)(Durations.Parse(timeout, "timeout", TimeSpan.FromHours(1)) ?? options.Value.DefaultStopTimeout).TotalMilliseconds,
                };
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.Stop, request, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409)
            .Calls(nameof(IHypervisorDriver.StopInstanceAsync))
            .WithName(OperationName(OperationKinds.Stop)).WithSummary("Graceful stop, then power off after ?timeout= (default Agent:DefaultStopTimeout; 0 powers off at once).");

        instances.MapPost("/{id}/" + OperationKinds.Reboot, async (string driver, string id, string? wait, string? kind, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
                HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                var request = new OperationRequest { RebootKind = ParseRebootKind(kind) };
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.Reboot, request, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.RebootInstanceAsync))
            .WithName(OperationName(OperationKinds.Reboot)).WithSummary("Reboots: ?kind=soft (the guest, default) or hard (reset).");

        instances.MapGet("/{id}/console", (string driver, string id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetConsoleOutputAsync(ParseId(id), cancellationToken))
            .Produces<ConsoleOutput>().ProducesCommonProblems(400, 404, 501)
            .Calls(nameof(IHypervisorDriver.GetConsoleOutputAsync))
            .WithName("GetConsoleOutput").WithSummary("The tail of the serial console.");

        instances.MapGet("/{id}/devices", (string driver, string id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetDevicesAsync(ParseId(id), cancellationToken))
            .Produces<InstanceDevices>().ProducesCommonProblems(400, 404, 501)
            .Calls(nameof(IHypervisorDriver.GetDevicesAsync))
            .WithName("GetDevices").WithSummary("Disks, attached volumes and network interfaces.");

        instances.MapPost("/{id}/volumes", async (string driver, string id, VolumeSpec body, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                InstanceSpecValidator.ValidateVolume(body, "volume");
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.AttachVolume, new OperationRequest { Volume = body }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .Accepts<VolumeSpec>("application/json").ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.AttachVolumeAsync))
            .WithName("AttachVolume").WithSummary("Attaches a volume.");

        instances.MapDelete("/{id}/volumes/{volumeId}", async (string driver, string id, string volumeId, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                InstanceSpecValidator.ValidateDeviceId(volumeId, "volumeId");
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.DetachVolume, new OperationRequest { VolumeId = volumeId }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.DetachVolumeAsync))
            .WithName("DetachVolume").WithSummary("Detaches a volume.");

        instances.MapPost("/{id}/interfaces", async (string driver, string id, NetworkInterfaceSpec body, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                InstanceSpecValidator.ValidateInterface(body, "networkInterface");
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.AttachInterface, new OperationRequest { Interface = body }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .Accepts<NetworkInterfaceSpec>("application/json").ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.AttachInterfaceAsync))
            .WithName("AttachInterface").WithSummary("Adds a network interface.");

        instances.MapDelete("/{id}/interfaces/{macAddress}", async (string driver, string id, string macAddress, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                if (!InstanceSpecValidator.TryNormalizeMac(macAddress, out var mac))
                {
                    throw new InvalidSpecException("macAddress", $"'{macAddress}' is not a MAC address.");
                }

                return await SubmitAsync(operations, driver, instanceId, OperationKinds.DetachInterface, new OperationRequest { MacAddress = mac }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.DetachInterfaceAsync))
            .WithName("DetachInterface").WithSummary("Removes the network interface with this MAC address.");

        instances.MapGet("/{id}/snapshots", (string driver, string id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).ListSnapshotsAsync(ParseId(id), cancellationToken))
            .Produces<IReadOnlyList<SnapshotInfo>>().ProducesCommonProblems(400, 404, 501)
            .Calls(nameof(IHypervisorDriver.ListSnapshotsAsync))
            .WithName("ListSnapshots").WithSummary("The instance's snapshots.");

        instances.MapPost("/{id}/snapshots", async (string driver, string id, CreateSnapshotRequest body, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                InstanceSpecValidator.ValidateName(body.Name, "name");
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.CreateSnapshot, new OperationRequest { SnapshotName = body.Name }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .Accepts<CreateSnapshotRequest>("application/json").ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.CreateSnapshotAsync))
            .WithName("CreateSnapshot").WithSummary("Takes a snapshot; the operation's result is the SnapshotInfo.");

        instances.MapDelete("/{id}/snapshots/{snapshotId}", async (string driver, string id, string snapshotId, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var instanceId = ParseId(id);
                InstanceSpecValidator.ValidateDeviceId(snapshotId, "snapshotId");
                return await SubmitAsync(operations, driver, instanceId, OperationKinds.DeleteSnapshot, new OperationRequest { SnapshotId = snapshotId }, idempotencyKey, waitFor, context).ConfigureAwait(false);
            })
            .ProducesOperation(409, 501)
            .Calls(nameof(IHypervisorDriver.DeleteSnapshotAsync))
            .WithName("DeleteSnapshot").WithSummary("Deletes a snapshot.");

        v1.MapGet("/operations", (string? driver, string? instanceId, string? state, string? after, string? limit, OperationService operations) =>
            {
                Guid? instance = instanceId is null ? null : ParseId(instanceId, "instanceId");
                OperationState? wanted = state is null ? null
                    : Enum.TryParse<OperationState>(state, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !state.Any(char.IsDigit) ? parsed
                    : throw new InvalidSpecException("state", $"'{state}' is not one of {string.Join(", ", Enum.GetNames<OperationState>())}.");
                var pageSize = limit is null ? 100
                    : int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var size) && size is >= 1 and <= MaxPageSize ? size
                    : throw new InvalidSpecException("limit", $"must be a number from 1 to {MaxPageSize}.");
                if (after is not null && (after.Length != 32 || !after.All(char.IsAsciiHexDigitLower)))
                {
                    throw new InvalidSpecException("after", "must be an operation id (the previous page's next).");
                }

                var page = operations.List(driver, instance, wanted, after, pageSize + 1);
                var items = page.Take(pageSize).Select(operation => operation.ToResource()).ToList();
                return new OperationListResource { Items = items, Next = page.Count > pageSize ? items[^1].Id : null };
            })
            .Produces<OperationListResource>().ProducesCommonProblems(400)
            .WithName("ListOperations")
            .WithSummary("The journaled operations, oldest first, optionally of one driver, instance or state; paged with ?limit= and ?after= (the previous page's next). Finished ones are kept for Agent:OperationRetention.");

        v1.MapGet("/operations/{operationId}", async (string operationId, string? wait, OperationService operations, IOptions<AgentOptions> options, HttpContext context) =>
            {
                var waitFor = ParseWait(wait, options.Value);
                var operation = await operations.WaitAsync(operationId, waitFor, context.RequestAborted).ConfigureAwait(false);
                return operation is null
                    ? Results.Problem(new ProblemDetails { Status = 404, Title = "Operation not found", Type = Problems.TypeUri("operation-not-found"), Detail = $"No operation {operationId}.", Extensions = { ["kind"] = nameof(HypervisorErrorKind.NotFound), ["retryable"] = false } })
                    : Results.Ok(operation.ToResource());
            })
            .Produces<OperationResource>().ProducesCommonProblems(400, 404)
            .WithName("GetOperation").WithSummary("An operation; ?wait=30s holds the answer until it is final or the wait ends.");
    }

    /// <summary>Documents the problems every route may answer, plus <paramref name="statuses"/>.</summary>
    public static RouteHandlerBuilder ProducesCommonProblems(this RouteHandlerBuilder route, params int[] statuses)
    {
        foreach (var status in statuses.Concat([401, 500, 503]).Distinct().Order())
        {
            route.ProducesProblem(status);
        }

        return route;
    }

    /// <summary>A mutating route: 202 with the operation (final when it finished within <c>?wait=</c>), and its problems.</summary>
    private static RouteHandlerBuilder ProducesOperation(this RouteHandlerBuilder route, params int[] statuses) =>
        route.Produces<OperationResource>(StatusCodes.Status202Accepted).ProducesCommonProblems([400, 404, 413, 415, .. statuses]);

    private static string OperationName(string action) =>
        string.Concat(action.Split('-').Select(part => char.ToUpperInvariant(part[0]) + part[1..])) + "Instance";

    /// <summary>The contract method a power action calls.</summary>
    private static string ContractMethod(string action) => action switch
    {
        OperationKinds.Start => nameof(IHypervisorDriver.StartInstanceAsync),
        OperationKinds.PowerOff => nameof(IHypervisorDriver.PowerOffInstanceAsync),
        OperationKinds.Pause => nameof(IHypervisorDriver.PauseInstanceAsync),
        OperationKinds.Unpause => nameof(IHypervisorDriver.UnpauseInstanceAsync),
        OperationKinds.Suspend => nameof(IHypervisorDriver.SuspendInstanceAsync),
        OperationKinds.Resume => nameof(IHypervisorDriver.ResumeInstanceAsync),
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Not a plain power action."),
    };

    /// <summary>Records which member of <see cref="IHypervisorDriver"/> the route serves (the route-coverage test reads it).</summary>
    public static TBuilder Calls<TBuilder>(this TBuilder route, string contractMember)
        where TBuilder : IEndpointConventionBuilder => route.WithMetadata(new ContractMemberMetadata(contractMember));

    private static Guid ParseId(string text, string field = "id") =>
        Guid.TryParseExact(text, "D", out var id) ? id : throw new InvalidSpecException(field, $"'{text}' is not a UUID such as 5659fa6e-2e5b-4f5c-9b8a-0d3c1e2f4a6b.");

    private static TimeSpan ParseWait(string? wait, AgentOptions options) => Durations.Parse(wait, "wait", options.MaxWait) ?? TimeSpan.Zero;

    private static RebootKind ParseRebootKind(string? kind) => kind?.ToLowerInvariant() switch
    {
        null or "" or "soft" => RebootKind.Soft,
        "hard" => RebootKind.Hard,
        _ => throw new InvalidSpecException("kind", $"'{kind}' is not soft or hard."),
    };

    private static async Task<IResult> SubmitAsync(OperationService operations, string driver, Guid instanceId, string kind, OperationRequest request, string? idempotencyKey, TimeSpan wait, HttpContext context) =>
        await RespondAsync(await operations.SubmitAsync(driver, instanceId, kind, request, idempotencyKey, context.RequestAborted).ConfigureAwait(false), wait, context).ConfigureAwait(false);

    /// <summary>202 Accepted with the operation and its Location, after waiting up to <paramref name="wait"/> for it to become final.</summary>
    private static async Task<IResult> RespondAsync(SubmittedOperation submitted, TimeSpan wait, HttpContext context)
    {
        var operation = submitted.Operation;
        if (submitted.Completion.IsCompletedSuccessfully)
        {
            operation = submitted.Completion.Result;
        }
        else if (wait > TimeSpan.Zero)
        {
            try
            {
                operation = await submitted.Completion.WaitAsync(wait, context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Still running: answer with the pending operation and its Location.
            }
        }

        var location = AgentPaths.Build(["v1", "operations", operation.Id]);
        return Results.Accepted(location.ToString(), operation.ToResource());
    }
}

/// <summary>Endpoint metadata: the <see cref="IHypervisorDriver"/> member a route serves.</summary>
/// <param name="Member">The member's name (<c>CreateSnapshotAsync</c>).</param>
internal sealed record ContractMemberMetadata(string Member);
