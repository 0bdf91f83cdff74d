using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>AMQPS to a broker whose certificate comes from a throwaway CA: trusted through Tls:CaCertificateFile, refused without it.</summary>
public sealed class AmqpTlsTests
{
    [Fact]
    public async Task Agent_and_fleet_client_talk_over_tls_with_the_configured_ca_and_an_untrusted_broker_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        var certificates = Directory.CreateTempSubdirectory("hv-amqp-tls-").FullName;
        try
        {
            var files = await WriteThrowawayPkiAsync(certificates, ct);
            await using var node = await PrivateRabbitNode.StartAsync(files, ct);
            var tlsEndpoint = $"127.0.0.1:{node.TlsPort}";
            await using var scope = new AmqpTestScope(node.Port);

            var settings = scope.AgentSettings("tls-agent");
            settings["Agent:Amqp:Endpoints:0"] = tlsEndpoint;
            settings["Agent:Amqp:Tls:Enabled"] = "true";
            settings["Agent:Amqp:Tls:CaCertificateFile"] = files.CaCertificateFile;
            await using var agent = await TestAgent.StartAsync(settings);

            var trusting = TlsBroker(scope, tlsEndpoint);
            trusting.Tls.CaCertificateFile = files.CaCertificateFile;
            await using (var fleet = await FleetClient.ConnectAsync(trusting, new FleetClientOptions { FollowHeartbeats = false, CallTimeout = TimeSpan.FromSeconds(30) }, ct))
            {
                var pong = await fleet.CallAsync("tls-agent", "ping", [], cancellationToken: ct);
                Assert.Equal("tls-agent", pong!["host"]!.GetValue<string>());
            }

            // Validation is on by default: the same broker, with no CA configured, is not trusted.
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => FleetClient.ConnectAsync(TlsBroker(scope, tlsEndpoint), new FleetClientOptions { FollowHeartbeats = false }, ct));
            var chain = AmqpFaultTests.Chain(failure).ToList();
            Assert.Contains(chain, e => e is AuthenticationException);
            var messages = string.Join(" | ", chain.Select(e => e.Message));
            Assert.Contains("certificate", messages, StringComparison.OrdinalIgnoreCase);
            TestContext.Current.TestOutputHelper?.WriteLine("untrusted broker refused: " + messages);
        }
        finally
        {
            Directory.Delete(certificates, recursive: true);
        }
    }

    private static BrokerOptions TlsBroker(AmqpTestScope scope, string tlsEndpoint)
    {
        var broker = scope.Broker();
        broker.Endpoints.Clear();
        broker.Endpoints.Add(tlsEndpoint);
        broker.Tls.Enabled = true;
        return broker;
    }

    /// <summary>A CA and a server certificate for 127.0.0.1/localhost signed by it, as PEM files in <paramref name="directory"/>.</summary>
    private static async Task<RabbitTlsFiles> WriteThrowawayPkiAsync(string directory, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=hypervisors test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=localhost", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(16));

        var files = new RabbitTlsFiles(Path.Combine(directory, "ca.pem"), Path.Combine(directory, "server.pem"), Path.Combine(directory, "server.key"));
        await File.WriteAllTextAsync(files.CaCertificateFile, ca.ExportCertificatePem(), cancellationToken);
        await File.WriteAllTextAsync(files.CertificateFile, server.ExportCertificatePem(), cancellationToken);
        await File.WriteAllTextAsync(files.KeyFile, serverKey.ExportRSAPrivateKeyPem(), cancellationToken);
        return files;
    }
}
