using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Security;

public sealed class SecurityTests : IDisposable
{
    private const string Token = "test-token-0123456789abcdef";
    private readonly DirectoryInfo _secrets = Directory.CreateTempSubdirectory("hv-agent-secrets-");

    public void Dispose() => _secrets.Delete(recursive: true);

    private string WriteSecret(string name, string content)
    {
        var path = Path.Combine(_secrets.FullName, name);
        File.WriteAllText(path, content + "\n");
        return path;
    }

    [Fact]
    public async Task With_a_token_file_every_api_call_needs_the_bearer_token_but_health_does_not()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:TokenFile"] = WriteSecret("token", Token) });
        var ct = TestContext.Current.CancellationToken;

        using var anonymous = new HttpClient { BaseAddress = agent.BaseAddress };
        using var missing = await anonymous.GetAsync("/v1/drivers", ct);
        using var wrongRequest = new HttpRequestMessage(HttpMethod.Get, "/v1/drivers") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } };
        using var wrong = await anonymous.SendAsync(wrongRequest, ct);
        using var metrics = await anonymous.GetAsync("/metrics", ct);
        using var health = await anonymous.GetAsync("/healthz", ct);
        var drivers = await new AgentClient(anonymous, Token).GetDriversAsync(ct);

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Single(drivers);
        Assert.DoesNotContain(agent.Logs.Entries, e => e.Message.Contains(Token, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://0.0.0.0:0", true)]
    [InlineData("http://192.0.2.10:0", true)]
    [InlineData("https://0.0.0.0:0", false)]
    public async Task The_agent_refuses_to_listen_beyond_loopback_without_tls_and_a_token(string listen, bool withToken)
    {
        var settings = withToken ? new Dictionary<string, string> { ["Agent:TokenFile"] = WriteSecret("token", Token) } : null;

        var refused = await Assert.ThrowsAsync<Hypervisors.Agent.Configuration.AgentStartupException>(() => TestAgent.StartAsync(settings, listen: listen));

        Assert.Contains("Agent:Listen: refusing to listen", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_token_is_refused_at_start()
    {
        var refused = await Assert.ThrowsAsync<Hypervisors.Agent.Configuration.AgentStartupException>(() =>
            TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:TokenFile"] = WriteSecret("token", "short") }));

        Assert.DoesNotContain("short", refused.Message.Replace(_secrets.FullName, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Beyond_loopback_with_tls_and_a_token_the_agent_serves_https_with_its_certificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=hv-agent-test", key, HashAlgorithmName.SHA256);
        var sans = new SubjectAlternativeNameBuilder();
        sans.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(sans.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var certificateFile = WriteSecret("agent.crt", certificate.ExportCertificatePem());
        var keyFile = WriteSecret("agent.key", key.ExportPkcs8PrivateKeyPem());

        await using var agent = await TestAgent.StartAsync(
            new Dictionary<string, string>
            {
                ["Agent:TokenFile"] = WriteSecret("token", Token),
                ["Agent:Tls:CertificateFile"] = certificateFile,
                ["Agent:Tls:KeyFile"] = keyFile,
            },
            listen: "https://0.0.0.0:0");
        var port = agent.BaseAddress.Port;
        var thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        using var handler = new HttpClientHandler
        {
            // Pin the test certificate (the default, full validation, would reject a self-signed one).
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.GetCertHashString(HashAlgorithmName.SHA256) == thumbprint,
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };

        var drivers = await new AgentClient(https, Token).GetDriversAsync(TestContext.Current.CancellationToken);

        Assert.Equal("https", agent.BaseAddress.Scheme);
        Assert.Single(drivers);
    }

    [Fact]
    public async Task Driver_settings_named_XFile_are_read_from_the_file_and_never_logged()
    {
        const string secretHostName = "host-from-a-secret-file-7f3a";
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>
        {
            ["Agent:Drivers:kvm:Kind"] = "fake",
            ["Agent:Drivers:kvm:HostNameFile"] = WriteSecret("hostname", secretHostName),
        });

        var host = await agent.Client.GetHostAsync("kvm", TestContext.Current.CancellationToken);

        Assert.Equal(secretHostName, host.Host.HostName);
        Assert.Contains(agent.Logs.Entries, e => e.EventId.Id == 1001 && e.Message.Contains("kvm", StringComparison.Ordinal));
        Assert.DoesNotContain(agent.Logs.Entries, e => e.Message.Contains(secretHostName, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_driver_kind_is_refused_at_start()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:x:Kind"] = "vmware-workstation" }));

        Assert.Contains("vmware-workstation", refused.Message, StringComparison.Ordinal);
    }
}
