using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Hypervisors.Tests;

public sealed class TlsOptionsTests
{
    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=hypervisor.test", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public void Without_pins_only_a_certificate_that_validates_is_accepted()
    {
        using var certificate = SelfSigned();
        var check = new TlsOptions().CreateValidationCallback();
        Assert.True(check(this, certificate, null, SslPolicyErrors.None));
        Assert.False(check(this, certificate, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(check(this, null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    [Fact]
    public void A_pinned_certificate_is_accepted_whatever_its_chain_and_any_other_is_refused_with_its_thumbprint()
    {
        using var pinned = SelfSigned();
        using var other = SelfSigned();
        var thumbprint = Convert.ToHexString(SHA256.HashData(pinned.RawData));
        var pasted = string.Join(':', thumbprint.Chunk(2).Select(c => new string(c))).ToLowerInvariant();
        var refused = new List<string>();
        var check = new TlsOptions { PinnedSha256Thumbprints = [pasted] }.CreateValidationCallback(refused.Add);

        Assert.True(check(this, pinned, null, SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(check(this, other, null, SslPolicyErrors.None)); // pinning means this certificate and no other
        Assert.Equal([Convert.ToHexString(SHA256.HashData(other.RawData))], refused);
    }

    [Fact]
    public void Validation_names_the_key_of_each_bad_pin()
    {
        var options = new TlsOptions { PinnedSha256Thumbprints = [new string('A', 64), new string('B', 40), "zz"] };
        var failures = options.Validate("Drivers:esx1:Tls").ToList();
        Assert.Equal(2, failures.Count);
        Assert.StartsWith("Drivers:esx1:Tls:PinnedSha256Thumbprints:1:", failures[0], StringComparison.Ordinal);
        Assert.StartsWith("Drivers:esx1:Tls:PinnedSha256Thumbprints:2:", failures[1], StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => options.CreateValidationCallback());
    }

    [Fact]
    public void Apply_sets_the_handlers_certificate_check()
    {
        using var handler = new SocketsHttpHandler();
        new TlsOptions().ApplyTo(handler);
        Assert.NotNull(handler.SslOptions.RemoteCertificateValidationCallback);
    }
}
