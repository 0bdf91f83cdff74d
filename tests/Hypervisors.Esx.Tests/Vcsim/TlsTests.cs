namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary>TLS is validated by default; a pinned thumbprint is the way to trust vcsim's self-signed certificate.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private VcsimServer? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private VcsimServer Server => _server!;

    public async ValueTask InitializeAsync() => _server = await VcsimServer.StartAsync(vcenter: false, tls: true);

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_a_pin_the_self_signed_certificate_is_refused_with_its_thumbprint()
    {
        await using var driver = new EsxDriver(Server.CreateOptions(pin: false));
        var ex = await Assert.ThrowsAsync<HypervisorAuthenticationException>(() => driver.ListInstancesAsync(Ct));
        Assert.Contains("not trusted", ex.Message, StringComparison.Ordinal);
        var client = (Hypervisors.Esx.Wire.VimClient)driver.GetService(typeof(Hypervisors.Esx.Wire.VimClient))!;
        Assert.True(TlsOptions.TryNormalize(Server.Sha256, out var expected));
        Assert.Equal(expected, client.RefusedThumbprint);
        Assert.Equal(0, client.LoginCount);
    }

    [Fact]
    public async Task A_pin_of_another_certificate_is_refused()
    {
        var options = Server.CreateOptions(pin: false);
        options.Tls.PinnedSha256Thumbprints.Add(new string('a', 64));
        await using var driver = new EsxDriver(options);
        await Assert.ThrowsAsync<HypervisorAuthenticationException>(() => driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task A_sha256_pin_with_colons_in_lower_case_is_accepted()
    {
        var options = Server.CreateOptions(pin: false);
        Assert.True(TlsOptions.TryNormalize(Server.Sha256, out var hex));
        options.Tls.PinnedSha256Thumbprints.Add(string.Join(':', Enumerable.Range(0, 32).Select(i => hex.Substring(i * 2, 2).ToLowerInvariant())));
        await using var driver = new EsxDriver(options);
        Assert.Equal("VMware", (await driver.GetHostInfoAsync(Ct)).HypervisorType);
    }

    [Fact]
    public void A_sha1_pin_is_refused_by_validation()
    {
        var options = Server.CreateOptions(pin: false);
        options.Tls.PinnedSha256Thumbprints.Add(Server.Sha1!);
        Assert.Contains(options.Validate("Esx:vc"), f => f.StartsWith("Esx:vc:Tls:PinnedSha256Thumbprints:0:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wrong_credentials_are_an_authentication_error()
    {
        var options = Server.CreateOptions();
        options.Password = "wrong";
        await using var driver = new EsxDriver(options);
        var ex = await Assert.ThrowsAsync<HypervisorAuthenticationException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("InvalidLogin", ex.NativeCode);
        Assert.DoesNotContain("wrong", ex.ToString(), StringComparison.Ordinal);
    }
}
