using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using RabbitMQ.Client;

namespace Hypervisors.Agent.Fleet;

/// <summary>Where and how to reach the RabbitMQ broker (the agent's <c>Agent:Amqp</c> section, or a fleet client's settings).</summary>
public sealed class BrokerOptions
{
    /// <summary>Broker endpoints as <c>host:port</c> (or a bare host for the default port), tried in order.</summary>
    public IList<string> Endpoints { get; } = [];

    /// <summary>The virtual host.</summary>
    public string VirtualHost { get; set; } = "/";

    /// <summary>The user name.</summary>
    public string User { get; set; } = "guest";

    /// <summary>A file holding the password (its first line); preferred over <see cref="Password"/> for services.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>The password itself, for programs that hold it in memory; ignored when <see cref="PasswordFile"/> is set.</summary>
    public string? Password { get; set; }

    /// <summary>TLS to the broker.</summary>
    public BrokerTlsOptions Tls { get; set; } = new();

    /// <summary>The oslo.messaging control exchange (its <c>control_exchange</c> option; nova uses <c>nova</c>).</summary>
    public string ControlExchange { get; set; } = "openstack";

    /// <summary>The RPC topic: the shared queue's name and the per-host queues' prefix.</summary>
    public string Topic { get; set; } = "compute";

    /// <summary>The AMQP heartbeat the connection negotiates (dead TCP peers are noticed within about twice this).</summary>
    public TimeSpan ConnectionHeartbeat { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long opening a connection may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>TLS settings for the broker connection; the server certificate is always validated.</summary>
public sealed class BrokerTlsOptions
{
    /// <summary>Whether to use TLS (amqps; the default port becomes 5671).</summary>
    public bool Enabled { get; set; }

    /// <summary>The name the server certificate must carry; the endpoint's host when unset.</summary>
    public string? ServerName { get; set; }

    /// <summary>A PEM file of CA certificates to trust instead of the system's store.</summary>
    public string? CaCertificateFile { get; set; }
}

/// <summary>Builds RabbitMQ connections from <see cref="BrokerOptions"/>.</summary>
public static class BrokerConnections
{
    /// <summary>The connection factory for <paramref name="options"/>; reads the password file now.</summary>
    public static ConnectionFactory CreateFactory(BrokerOptions options, string clientName)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ConnectionFactory
        {
            UserName = options.User,
            Password = ReadPassword(options),
            VirtualHost = options.VirtualHost,
            ClientProvidedName = clientName,
            RequestedHeartbeat = options.ConnectionHeartbeat,
            RequestedConnectionTimeout = options.ConnectTimeout,
            // The owners of these connections recover them themselves: they re-declare, re-consume and re-probe.
            AutomaticRecoveryEnabled = false,
            TopologyRecoveryEnabled = false,
        };
    }

    /// <summary>The endpoints to try, with TLS settings applied.</summary>
    public static IReadOnlyList<AmqpTcpEndpoint> Endpoints(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var configured = options.Endpoints.Count == 0 ? ["127.0.0.1"] : options.Endpoints;
        var endpoints = new List<AmqpTcpEndpoint>();
        foreach (var entry in configured)
        {
            var (host, port) = ParseEndpoint(entry, options.Tls.Enabled ? 5671 : 5672);
            var ssl = new SslOption { Enabled = options.Tls.Enabled, ServerName = options.Tls.ServerName ?? host };
            if (options.Tls.Enabled && options.Tls.CaCertificateFile is { } caFile)
            {
                var trusted = new X509Certificate2Collection();
                trusted.ImportFromPemFile(caFile);
                ssl.CertificateValidationCallback = (_, certificate, _, errors) => ValidateWithCustomRoots(certificate, errors, trusted);
            }

            endpoints.Add(new AmqpTcpEndpoint(host, port, ssl));
        }

        return endpoints;
    }

    private static (string Host, int Port) ParseEndpoint(string entry, int defaultPort)
    {
        var colon = entry.LastIndexOf(':');
        if (colon > 0 && entry.IndexOf(']', StringComparison.Ordinal) < colon)
        {
            if (!int.TryParse(entry.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new ArgumentException($"Broker endpoint '{entry}' has no valid port.", nameof(entry));
            }

            return (entry[..colon].Trim('[', ']'), port);
        }

        return (entry.Trim('[', ']'), defaultPort);
    }

    private static bool ValidateWithCustomRoots(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection trusted)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            // A missing certificate or a name mismatch is never excused.
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private static string ReadPassword(BrokerOptions options)
    {
        if (options.PasswordFile is { Length: > 0 } file)
        {
            var text = File.ReadAllText(file);
            var newline = text.IndexOfAny(['\r', '\n']);
            return newline < 0 ? text : text[..newline];
        }

        return options.Password ?? "guest";
    }
}
