using Microsoft.Extensions.DependencyInjection;

namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary><c>AddEsx</c> registers a named driver that connects on first use.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task AddEsx_registers_a_named_driver_that_connects_on_first_use()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: true, tls: true);
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddEsx("vc1", o =>
        {
            var configured = server.CreateOptions();
            o.Url = configured.Url;
            o.Credentials = configured.Credentials;
            o.TrustedThumbprints.Add(server.Sha256!);
            o.Datacenter = "DC0";
            o.ComputeResource = "DC0_C0";
            o.Datastore = server.Datastore;
        }));
        await using var provider = services.BuildServiceProvider();

        var driver = provider.GetRequiredService<IHypervisorDriverRegistry>().Get("vc1");
        var host = await driver.GetHostInfoAsync(TestContext.Current.CancellationToken);

        Assert.IsType<EsxDriver>(driver);
        Assert.Equal("DC0_C0", host.HostName); // a cluster of three hosts, reported as the cluster
        Assert.True(host.VCpusTotal > 0);
    }

    [Fact]
    public async Task A_placement_name_that_does_not_exist_is_reported_with_the_names_found()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: true, tls: false);
        var options = server.CreateOptions();
        options.Datastore = "no-such-datastore";
        await using var driver = new EsxDriver(options);
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(TestContext.Current.CancellationToken));
        Assert.Equal(HypervisorErrorKind.NotFound, ex.Kind);
        Assert.Contains(server.Datastore, ex.Message, StringComparison.Ordinal);
    }
}
