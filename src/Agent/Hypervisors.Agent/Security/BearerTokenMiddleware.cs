using System.Security.Cryptography;
using System.Text;
using Hypervisors.Agent.Api;
using Hypervisors.Agent.Configuration;
using Microsoft.Net.Http.Headers;

namespace Hypervisors.Agent.Security;

/// <summary>The bearer token, read once from <c>Agent:TokenFile</c>; never logged.</summary>
internal sealed class BearerToken
{
    private readonly byte[]? _expected;

    private BearerToken(byte[]? expected) => _expected = expected;

    public bool IsConfigured => _expected is not null;

    public static BearerToken FromFile(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return new BearerToken(null);
        }

        string token;
        try
        {
            token = File.ReadAllText(path).Trim();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw AgentStartupException.Setting("Agent:TokenFile", $"cannot read '{path}': {exception.Message}", exception);
        }

        if (token.Length < 16 || token.Any(char.IsWhiteSpace))
        {
            throw AgentStartupException.Setting("Agent:TokenFile", $"the token in '{path}' must be at least 16 characters without whitespace.");
        }

        return new BearerToken(Encoding.UTF8.GetBytes(token));
    }

    /// <summary>Compares in constant time.</summary>
    public bool Matches(ReadOnlySpan<char> presented)
    {
        if (_expected is null)
        {
            return true;
        }

        var bytes = Encoding.UTF8.GetBytes(presented.ToArray());
        return CryptographicOperations.FixedTimeEquals(bytes, _expected);
    }
}

/// <summary>Requires <c>Authorization: Bearer &lt;token&gt;</c> on everything except the health endpoints.</summary>
internal sealed class BearerTokenMiddleware(RequestDelegate next, BearerToken token)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (!token.IsConfigured || context.Request.Path.StartsWithSegments("/healthz", StringComparison.Ordinal))
        {
            return next(context);
        }

        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && token.Matches(header.AsSpan(scheme.Length).Trim()))
        {
            return next(context);
        }

        context.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        // Its own type: "hypervisor-authentication-failed" (502) is the hypervisor refusing the agent, not this.
        return Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, HypervisorErrorKind.AuthenticationFailed, "Unauthorized",
            "A valid bearer token is required.", retryable: false, slug: "unauthorized");
    }
}
