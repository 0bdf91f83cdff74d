using System.Net;
using System.Security.Cryptography.X509Certificates;
using Hypervisors.Agent.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Hypervisors.Agent.Security;

/// <summary>One parsed listen URL.</summary>
/// <param name="IsHttps">Whether TLS is on.</param>
/// <param name="Address">The IP to bind, or null for every interface.</param>
/// <param name="IsLocalhostName">Whether the host was the name <c>localhost</c> (bind both loopbacks).</param>
/// <param name="Port">The port (0 picks a free one).</param>
internal sealed record ListenEndpoint(bool IsHttps, IPAddress? Address, bool IsLocalhostName, int Port)
{
    /// <summary>Whether only this machine can reach the endpoint.</summary>
    public bool IsLoopback => IsLocalhostName || (Address is not null && IPAddress.IsLoopback(Address));
}

/// <summary>
/// Turns the configured listen URLs into Kestrel endpoints and refuses, at start, any endpoint reachable beyond
/// loopback unless it is https and a bearer token is configured.
/// </summary>
internal static class ListenPolicy
{
    public static ListenEndpoint Parse(string url)
    {
        // Kestrel's wildcard hosts are not valid URI hosts; map them to an address first.
        var normalized = url.Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query))
        {
            throw AgentStartupException.Setting("Agent:Listen", $"'{url}' is not an http:// or https:// URL of the form scheme://host:port.");
        }

        var isHttps = uri.Scheme == Uri.UriSchemeHttps;
        if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new ListenEndpoint(isHttps, null, true, uri.Port);
        }

        if (!IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            throw AgentStartupException.Setting("Agent:Listen", $"'{url}' must name an IP address or localhost, not a host name.");
        }

        return new ListenEndpoint(isHttps, address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? null : address, false, uri.Port);
    }

    /// <summary>Throws unless every endpoint is loopback, or https with a token configured.</summary>
    public static IReadOnlyList<ListenEndpoint> Validate(AgentOptions options, bool hasToken)
    {
        var endpoints = options.EffectiveListen.Select(Parse).ToList();
        foreach (var endpoint in endpoints.Where(e => !e.IsLoopback))
        {
            if (!endpoint.IsHttps || !hasToken)
            {
                throw AgentStartupException.Setting("Agent:Listen",
                    $"refusing to listen on {(endpoint.Address?.ToString() ?? "every interface")}:{endpoint.Port}: beyond loopback the agent needs https (Agent:Tls) and a bearer token (Agent:TokenFile).");
            }
        }

        if (endpoints.Any(e => e.IsHttps) && string.IsNullOrEmpty(options.Tls.CertificateFile))
        {
            throw AgentStartupException.Setting("Agent:Tls:CertificateFile", "an https listen URL needs a certificate (and Agent:Tls:KeyFile unless the file holds the key).");
        }

        return endpoints;
    }

    /// <summary>Binds Kestrel to <paramref name="endpoints"/>.</summary>
    public static void Apply(KestrelServerOptions kestrel, IReadOnlyList<ListenEndpoint> endpoints, AgentOptions options)
    {
        X509Certificate2? certificate = null;
        if (endpoints.Any(e => e.IsHttps))
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(options.Tls.CertificateFile!, options.Tls.KeyFile);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                throw AgentStartupException.Setting("Agent:Tls:CertificateFile", $"cannot load '{options.Tls.CertificateFile}': {exception.Message}", exception);
            }
        }

        kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
        kestrel.AddServerHeader = false;
        foreach (var endpoint in endpoints)
        {
            void Configure(ListenOptions listen)
            {
                if (endpoint.IsHttps)
                {
                    listen.UseHttps(certificate!);
                }
            }

            if (endpoint.IsLocalhostName)
            {
                kestrel.ListenLocalhost(endpoint.Port, Configure);
            }
            else if (endpoint.Address is null)
            {
                kestrel.ListenAnyIP(endpoint.Port, Configure);
            }
            else
            {
                kestrel.Listen(endpoint.Address, endpoint.Port, Configure);
            }
        }
    }
}
