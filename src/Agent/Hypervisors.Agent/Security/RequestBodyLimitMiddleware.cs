using Hypervisors.Agent.Api;
using Hypervisors.Agent.Configuration;
using Microsoft.Extensions.Options;

namespace Hypervisors.Agent.Security;

/// <summary>
/// Refuses a declared body over <see cref="AgentOptions.MaxRequestBodyBytes"/> with a 413 problem before reading
/// it; Kestrel's own limit (set to the same value) stops chunked bodies that grow past it.
/// </summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next, IOptions<AgentOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength is { } length && length > limit)
        {
            return Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, HypervisorErrorKind.InvalidSpec, "Request body too large",
                $"The body has {length} bytes; the agent accepts at most {limit}.", retryable: false, slug: "body-too-large");
        }

        return next(context);
    }
}
