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
                Detail = hypervisorException.Message,
                Instance = path,
                Kind = hypervisorException.Kind,
                Retryable = hypervisorException.IsTransient,
                NativeCode = hypervisorException.NativeCode,
                Field = (hypervisorException as InvalidSpecException)?.Field,
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
                BadHttpRequestException bad => new AgentProblem
                {
                    Type = Problems.TypeUri(bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "body-too-large" : "invalid-spec"),
                    Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Invalid request",
                    Status = bad.StatusCode,
                    Detail = (bad.InnerException as JsonException)?.Message ?? bad.Message,
                    Instance = context.Request.Path,
                    Kind = HypervisorErrorKind.InvalidSpec,
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

/// <summary>The path names a driver the agent does not host.</summary>
internal sealed class UnknownDriverException(string driver) : Exception($"The agent hosts no driver named '{driver}'.");
