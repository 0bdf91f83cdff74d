using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Operations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Api;

/// <summary>The /v1 resources: drivers, hosts, instances, their actions and devices, and operations.</summary>
internal static class InstanceEndpoints
{
    public static void MapInstanceApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");

        v1.MapGet("/drivers", (IHypervisorDriverRegistry registry) =>
                registry.Names.Select(name => new DriverResource(name, registry.Get(name).Capabilities)).ToList())
            .WithName("ListDrivers").WithSummary("The drivers the agent hosts, with their capabilities.");

        v1.MapGet("/drivers/{driver}/host", async (string driver, OperationService operations, CancellationToken cancellationToken) =>
            {
                var instance = operations.GetDriver(driver);
                return new HostResource(driver, await instance.GetHostInfoAsync(cancellationToken).ConfigureAwait(false), instance.Capabilities);
            })
            .WithName("GetHost").WithSummary("The host's identity, resources (total, used, free) and the driver's capabilities.");

        var instances = v1.MapGroup("/drivers/{driver}/instances");

        instances.MapGet("/", async (string driver, OperationService operations, InstanceListCache cache, CancellationToken cancellationToken) =>
                new InstanceListResult(await cache.GetAsync(driver, operations.GetDriver(driver), cancellationToken).ConfigureAwait(false)))
            .Produces<IReadOnlyList<InstanceInfo>>()
            .WithName("ListInstances").WithSummary("Every instance of the driver, with power state and size (reused until the next change, at most Agent:ListCacheTtl old).");

        instances.MapGet("/{id:guid}", (string driver, Guid id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetInstanceAsync(id, cancellationToken))
            .WithName("GetInstance").WithSummary("One instance.");

        instances.MapPut("/{id:guid}", async (string driver, Guid id, CreateInstanceRequest body, string? wait, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
                await RespondAsync(await operations.SubmitCreateAsync(driver, body.ToSpec(id), context.RequestAborted).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false))
            .WithName("CreateInstance")
            .WithSummary("Creates the instance with the caller's id; idempotent: a repeat with the same spec returns the same operation and instance.");

        instances.MapDelete("/{id:guid}", async (string driver, Guid id, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
                await RespondAsync(await operations.SubmitAsync(driver, id, OperationKinds.Delete, new OperationRequest(), idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false))
            .WithName("DeleteInstance").WithSummary("Powers off if needed and removes the instance.");

        foreach (var action in OperationKinds.PowerActions)
        {
            instances.MapPost("/{id:guid}/" + action, async (string driver, Guid id, string? wait, string? timeout, string? kind, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
                    HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
                {
                    var request = action switch
                    {
                        OperationKinds.Stop => new OperationRequest
                        {
                            TimeoutMs = (long)(Durations.Parse(timeout, "timeout", TimeSpan.FromHours(1)) ?? options.Value.DefaultStopTimeout).TotalMilliseconds,
                        },
                        OperationKinds.Reboot => new OperationRequest { RebootKind = ParseRebootKind(kind) },
                        _ => new OperationRequest(),
                    };
                    return await RespondAsync(await operations.SubmitAsync(driver, id, action, request, idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false);
                })
                .WithName(char.ToUpperInvariant(action[0]) + action[1..] + "Instance")
                .WithSummary(action switch
                {
                    OperationKinds.Stop => "Graceful stop, then power off after ?timeout= (default 60s; 0 powers off at once).",
                    OperationKinds.Reboot => "Reboots: ?kind=soft (the guest, default) or hard (reset).",
                    _ => $"Runs '{action}' on the instance.",
                });
        }

        instances.MapGet("/{id:guid}/console", (string driver, Guid id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetConsoleOutputAsync(id, cancellationToken))
            .WithName("GetConsoleOutput").WithSummary("The tail of the serial console.");

        instances.MapGet("/{id:guid}/devices", (string driver, Guid id, OperationService operations, CancellationToken cancellationToken) =>
                operations.GetDriver(driver).GetDevicesAsync(id, cancellationToken))
            .WithName("GetDevices").WithSummary("Disks, attached volumes and network interfaces.");

        instances.MapPost("/{id:guid}/volumes", async (string driver, Guid id, VolumeSpec body, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                InstanceSpecValidator.ValidateVolume(body, "volume");
                return await RespondAsync(await operations.SubmitAsync(driver, id, OperationKinds.AttachVolume, new OperationRequest { Volume = body }, idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false);
            })
            .WithName("AttachVolume").WithSummary("Attaches a volume.");

        instances.MapDelete("/{id:guid}/volumes/{volumeId}", async (string driver, Guid id, string volumeId, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                InstanceSpecValidator.ValidateDeviceId(volumeId, "volumeId");
                return await RespondAsync(await operations.SubmitAsync(driver, id, OperationKinds.DetachVolume, new OperationRequest { VolumeId = volumeId }, idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false);
            })
            .WithName("DetachVolume").WithSummary("Detaches a volume.");

        instances.MapPost("/{id:guid}/interfaces", async (string driver, Guid id, NetworkInterfaceSpec body, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                InstanceSpecValidator.ValidateInterface(body, "networkInterface");
                return await RespondAsync(await operations.SubmitAsync(driver, id, OperationKinds.AttachInterface, new OperationRequest { Interface = body }, idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false);
            })
            .WithName("AttachInterface").WithSummary("Adds a network interface.");

        instances.MapDelete("/{id:guid}/interfaces/{macAddress}", async (string driver, Guid id, string macAddress, string? wait, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, HttpContext context, OperationService operations, IOptions<AgentOptions> options) =>
            {
                if (!InstanceSpecValidator.TryNormalizeMac(macAddress, out var mac))
                {
                    throw new InvalidSpecException("macAddress", $"'{macAddress}' is not a MAC address.");
                }

                return await RespondAsync(await operations.SubmitAsync(driver, id, OperationKinds.DetachInterface, new OperationRequest { MacAddress = mac }, idempotencyKey).ConfigureAwait(false), wait, context, options.Value).ConfigureAwait(false);
            })
            .WithName("DetachInterface").WithSummary("Removes the network interface with this MAC address.");

        v1.MapGet("/operations/{operationId}", async (string operationId, string? wait, OperationService operations, IOptions<AgentOptions> options, HttpContext context) =>
            {
                var waitFor = Durations.Parse(wait, "wait", options.Value.MaxWait) ?? TimeSpan.Zero;
                var operation = await operations.WaitAsync(operationId, waitFor, context.RequestAborted).ConfigureAwait(false);
                return operation is null
                    ? Results.Problem(new ProblemDetails { Status = 404, Title = "Operation not found", Type = Problems.TypeUri("operation-not-found"), Detail = $"No operation {operationId}.", Extensions = { ["kind"] = nameof(HypervisorErrorKind.NotFound), ["retryable"] = false } })
                    : Results.Ok(operation.ToResource());
            })
            .WithName("GetOperation").WithSummary("An operation; ?wait=30s holds the answer until it is final or the wait ends.");
    }

    private static RebootKind ParseRebootKind(string? kind) => kind?.ToLowerInvariant() switch
    {
        null or "" or "soft" => RebootKind.Soft,
        "hard" => RebootKind.Hard,
        _ => throw new InvalidSpecException("kind", $"'{kind}' is not soft or hard."),
    };

    /// <summary>202 Accepted with the operation and its Location, after waiting up to <c>?wait=</c> for it to become final.</summary>
    private static async Task<IResult> RespondAsync(SubmittedOperation submitted, string? wait, HttpContext context, AgentOptions options)
    {
        var waitFor = Durations.Parse(wait, "wait", options.MaxWait) ?? TimeSpan.Zero;
        var operation = submitted.Operation;
        if (submitted.Completion.IsCompletedSuccessfully)
        {
            operation = submitted.Completion.Result;
        }
        else if (waitFor > TimeSpan.Zero)
        {
            try
            {
                operation = await submitted.Completion.WaitAsync(waitFor, context.RequestAborted).ConfigureAwait(false);
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
