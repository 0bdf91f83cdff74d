using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>HTTPS is validated by default; a pinned thumbprint (SHA-256 or Windows' SHA-1) accepts exactly that certificate.</summary>
public sealed class TransportSecurityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=hvsim01", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    private static HyperVDriver Driver(HyperVSimulatorServer server, string? pin)
    {
        var options = HyperVFixture.OptionsFor(server);
        if (pin is not null)
        {
            options.Tls.PinnedSha256Thumbprints.Add(pin);
        }

        return new HyperVDriver(options);
    }

    [Fact]
    public async Task An_untrusted_certificate_is_refused_unless_its_thumbprint_is_pinned()
    {
        using var certificate = SelfSigned();
        await using var server = await HyperVSimulatorServer.StartAsync(new HyperVSimulatorOptions { Certificate = certificate }, cancellationToken: Ct);
        Assert.Equal("https", server.Endpoint.Scheme);

        await using (var unpinned = Driver(server, null))
        {
            var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => unpinned.ListInstancesAsync(Ct));
            Assert.True(ex.IsTransient);
        }

        await using (var wrongPin = Driver(server, new string('A', 64)))
        {
            await Assert.ThrowsAsync<HypervisorUnavailableException>(() => wrongPin.ListInstancesAsync(Ct));
        }

        await using (var sha256 = Driver(server, certificate.GetCertHashString(HashAlgorithmName.SHA256)))
        {
            Assert.Empty(await sha256.ListInstancesAsync(Ct));
        }

        var colons = string.Join(':', certificate.GetCertHashString(HashAlgorithmName.SHA256).Chunk(2).Select(c => new string(c))).ToLowerInvariant();
        await using (var pasted = Driver(server, colons))
        {
            var host = await pasted.GetHostInfoAsync(Ct);
            Assert.Equal("HVSIM01", host.HostName);
        }

        // SHA-1 is no pin: the options are refused before any connection.
        Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => Driver(server, certificate.Thumbprint));
    }

    [Fact]
    public void The_endpoint_defaults_to_https_on_5986_and_http_on_5985()
    {
        var https = new HyperVDriverOptions { Host = "hv1.example" };
        var http = new HyperVDriverOptions { Host = "hv1.example", UseHttps = false };
        Assert.Equal(new Uri("https://hv1.example:5986/wsman"), https.ResolveEndpoint());
        Assert.Equal(new Uri("http://hv1.example:5985/wsman"), http.ResolveEndpoint());
        Assert.Contains("hv:Host: set Host or Url.", new HyperVDriverOptions().UseCredentials("u", "p").Validate("hv"));
        Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => new HyperVDriver(new HyperVDriverOptions().UseCredentials("u", "p")));
    }
}
