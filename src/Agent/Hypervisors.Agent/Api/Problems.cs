using System.Text.Json;
using Hypervisors.Agent.Client;

namespace Hypervisors.Agent.Api;

/// <summary>RFC 9457 problem details carrying the contract's error kind and whether a retry may succeed.</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>The one table from error kind to HTTP status and problem type.</summary>
    public static (int Status, string Slug, string Title) Describe(HypervisorErrorKind kind) => kind switch
    {
        HypervisorErrorKind.NotFound => (404, "not-found", "Instance not found"),
        HypervisorErrorKind.DeviceNotFound => (404, "device-not-found", "Device not found"),
        HypervisorErrorKind.InvalidPowerState => (409, "invalid-power-state", "Invalid power state"),
        HypervisorErrorKind.AlreadyExists => (409, "already-exists", "Already exists"),
        HypervisorErrorKind.GuestFeatureUnavailable => (409, "guest-feature-unavailable", "The guest cannot do this"),
        HypervisorErrorKind.InvalidSpec => (400, "invalid-spec", "Invalid request"),
        HypervisorErrorKind.NotSupported => (501, "not-supported", "Not supported by the driver"),
        HypervisorErrorKind.InsufficientResources => (422, "insufficient-resources", "Insufficient resources"),
        HypervisorErrorKind.AuthenticationFailed => (502, "hypervisor-authentication-failed", "The hypervisor refused the credentials"),
        HypervisorErrorKind.Unavailable => (503, "unavailable", "Hypervisor unavailable"),
        HypervisorErrorKind.Timeout => (504, "timeout", "Hypervisor timeout"),
        _ => (500, "unknown", "Hypervisor error"),
    };

    public static string TypeUri(string slug) => "urn:hypervisors:problem:" + slug;

    /// <summary>
    /// The wire name of a field the contract's validator names in C# terms: <c>spec.Disks[0].ImageRef</c> is
    /// <c>disks[0].imageRef</c> in a create body, <c>volume.Source</c> is <c>source</c> in an attach body. Other
    /// names (query parameters, headers) are already the wire's.
    /// </summary>
    public static string? WireField(string? field)
    {
        if (field is null)
        {
            return null;
        }

        string[] bodies = ["spec.", "volume.", "networkInterface."];
        var prefix = bodies.FirstOrDefault(b => field.StartsWith(b, StringComparison.Ordinal));
        if (prefix is null)
        {
            return field;
        }

        var parts = field[prefix.Length..].Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            var bracket = parts[i].IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? parts[i] : parts[i][..bracket];
            parts[i] = JsonNamingPolicy.CamelCase.ConvertName(name) + (bracket < 0 ? string.Empty : parts[i][bracket..]);
        }

        return string.Join('.', parts);
    }

    /// <summary>The problem for an error status the framework set without a body (404 route, 405, 415, 413, ...).</summary>
    public static AgentProblem ForStatus(int status, string? path) => status switch
    {
        404 => new AgentProblem { Type = TypeUri("route-not-found"), Title = "Not found", Status = 404, Detail = "No resource at this path.", Instance = path, Kind = HypervisorErrorKind.NotFound },
        405 => new AgentProblem { Type = TypeUri("method-not-allowed"), Title = "Method not allowed", Status = 405, Detail = "The resource does not take this method.", Instance = path, Kind = HypervisorErrorKind.InvalidSpec },
        413 => new AgentProblem { Type = TypeUri("body-too-large"), Title = "Request body too large", Status = 413, Detail = "The body is larger than the agent accepts (Agent:MaxRequestBodyBytes).", Instance = path, Kind = HypervisorErrorKind.InvalidSpec },
        415 => new AgentProblem { Type = TypeUri("unsupported-media-type"), Title = "Unsupported media type", Status = 415, Detail = "The body must be application/json.", Instance = path, Kind = HypervisorErrorKind.InvalidSpec },
        503 => new AgentProblem { Type = TypeUri("unavailable"), Title = "Agent unavailable", Status = 503, Detail = "The agent cannot take requests now.", Instance = path, Kind = HypervisorErrorKind.Unavailable, Retryable = true },
        >= 500 => new AgentProblem { Type = TypeUri("unknown"), Title = "Unexpected error", Status = status, Instance = path, Kind = HypervisorErrorKind.Unknown },
        _ => new AgentProblem { Type = TypeUri("invalid-request"), Title = "Invalid request", Status = status, Instance = path, Kind = HypervisorErrorKind.InvalidSpec },
    };

    public static AgentProblem FromException(Exception exception, string? path)
    {
        if (exception is HypervisorException hypervisorException)
        {
            var (status, slug, title) = Describe(hypervisorException.Kind);
            return new AgentProblem
            {
                Type = TypeUri(slug),
                Title = title,
                Status = status,
                Detail = hypervisorException is InvalidSpecException { Field: { } field } invalid && invalid.Message.StartsWith(field + ": ", StringComparison.Ordinal)
                    ? WireField(field) + invalid.Message[field.Length..]
                    : hypervisorException.Message,
                Instance = path,
                Kind = hypervisorException.Kind,
                Retryable = hypervisorException.IsTransient,
                NativeCode = hypervisorException.NativeCode,
                Field = WireField((hypervisorException as InvalidSpecException)?.Field),
            };
        }

        return new AgentProblem
        {
            Type = TypeUri("unknown"),
            Title = "Unexpected error",
            Status = 500,
            Detail = "The driver failed unexpectedly; the agent's log has the details.",
            Instance = path,
            Kind = HypervisorErrorKind.Unknown,
            Retryable = false,
        };
    }

    public static Task WriteAsync(HttpContext context, AgentProblem problem)
    {
        context.Response.StatusCode = problem.Status ?? 500;
        context.Response.ContentType = ContentType;
        if (problem.Retryable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        return JsonSerializer.SerializeAsync(context.Response.Body, problem, AgentJson.Options, context.RequestAborted);
    }

    public static Task WriteAsync(HttpContext context, int status, HypervisorErrorKind kind, string title, string detail, bool retryable, string? slug = null) =>
        WriteAsync(context, new AgentProblem
        {
            Type = TypeUri(slug ?? Describe(kind).Slug),
            Title = title,
            Status = status,
            Detail = detail,
            Instance = context.Request.Path,
            Kind = kind,
            Retryable = retryable,
        });
}

/// <summary>Turns exceptions from endpoints into problems: driver errors by kind, malformed requests as invalid-spec.</summary>
internal sealed class ProblemMiddleware(RequestDelegate next, ILogger<ProblemMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception exception) when (!context.Response.HasStarted && exception is not OperationCanceledException)
        {
            var problem = exception switch
            {
                HypervisorException => Problems.FromException(exception, context.Request.Path),
                BadHttpRequestException { StatusCode: not StatusCodes.Status400BadRequest } bad => Problems.ForStatus(bad.StatusCode, context.Request.Path),
                BadHttpRequestException bad => new AgentProblem
                {
                    Type = Problems.TypeUri("invalid-spec"),
                    Title = "Invalid request",
                    Status = bad.StatusCode,
                    Detail = (bad.InnerException as JsonException)?.Message ?? bad.Message,
                    Instance = context.Request.Path,
                    Kind = HypervisorErrorKind.InvalidSpec,
                    Field = bad.InnerException is JsonException { Path: { Length: > 2 } jsonPath } ? jsonPath.TrimStart('$').TrimStart('.') : null,
                },
                UnknownDriverException unknown => new AgentProblem
                {
                    Type = Problems.TypeUri("driver-not-found"),
                    Title = "Driver not found",
                    Status = 404,
                    Detail = unknown.Message,
                    Instance = context.Request.Path,
                    Kind = HypervisorErrorKind.NotFound,
                },
                _ => Problems.FromException(exception, context.Request.Path),
            };
            if (problem.Status >= 500 && exception is not HypervisorException)
            {
                Log.UnhandledRequestError(logger, context.Request.Path, exception);
            }

            context.Response.Clear();
            await Problems.WriteAsync(context, problem).ConfigureAwait(false);
        }
    }
}

/// <summary>Gives every error status the framework answers without a body (unmatched routes, 405, 415, 413, ...) a problem body.</summary>
internal static class StatusProblems
{
    public static Task WriteAsync(Microsoft.AspNetCore.Diagnostics.StatusCodeContext context)
    {
        var http = context.HttpContext;
        return http.Response.StatusCode >= 400 && !http.Response.HasStarted && http.Response.ContentLength is null or 0 && http.Response.ContentType is null
            ? Problems.WriteAsync(http, Problems.ForStatus(http.Response.StatusCode, http.Request.Path))
            : Task.CompletedTask;
    }
}

/// <summary>The path names a driver the agent does not host.</summary>
internal sealed class UnknownDriverException(string driver) : Exception($"The agent hosts no driver named '{driver}'.");
