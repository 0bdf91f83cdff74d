using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary><c>AddEsx</c> registers a named driver, bound from configuration, that connects on first use.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task A_driver_bound_from_configuration_reads_its_password_file_and_uses_the_containers_clock()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: true, tls: true);
        var secret = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(secret, VcsimServer.Password + "\n", TestContext.Current.CancellationToken);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Agent:Drivers:vc1:Kind"] = "esx",
                ["Agent:Drivers:vc1:Url"] = server.Url.ToString(),
                ["Agent:Drivers:vc1:UserName"] = VcsimServer.UserName,
                ["Agent:Drivers:vc1:PasswordFile"] = secret,
                ["Agent:Drivers:vc1:Tls:PinnedSha256Thumbprints:0"] = server.Sha256,
                ["Agent:Drivers:vc1:Datacenter"] = "DC0",
                ["Agent:Drivers:vc1:ComputeResource"] = "DC0_C0",
                ["Agent:Drivers:vc1:Datastore"] = server.Datastore,
                ["Agent:Drivers:vc1:EnableEvents"] = "false",
            }).Build();
            var clock = new FakeTimeProvider(new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero));
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(clock);
            services.AddHypervisors(h => h.AddDriverKinds(typeof(EsxDriver).Assembly).AddDriversFromConfiguration(configuration.GetSection("Agent:Drivers")));
            await using var provider = services.BuildServiceProvider();
            provider.GetRequiredService<IStartupValidator>().Validate();

            var driver = provider.GetRequiredService<IHypervisorDriverRegistry>().Get("vc1");
            var host = await driver.GetHostInfoAsync(TestContext.Current.CancellationToken);

            Assert.IsType<EsxDriver>(driver);
            Assert.Equal("DC0_C0", host.HostName); // a cluster of three hosts, reported as the cluster
            Assert.True(host.VCpusTotal > 0);
            Assert.True(host.Uptime > TimeSpan.FromDays(365 * 50), $"uptime {host.Uptime} is not measured on the container's clock");
            Assert.False(driver.Capabilities.SupportsEvents);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public void Bad_configuration_stops_start_up_naming_each_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Agent:Drivers:vc1:Kind"] = "esx",
            ["Agent:Drivers:vc1:Url"] = "vcenter.example/sdk",
            ["Agent:Drivers:vc1:PasswordFile"] = "/run/secrets/none",
            ["Agent:Drivers:vc1:PageSize"] = "0",
            ["Agent:Drivers:vc1:Tls:PinnedSha256Thumbprints:0"] = "12:34",
        }).Build();
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKind(new EsxDriverKind()).AddDriversFromConfiguration(configuration.GetSection("Agent:Drivers")));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        foreach (var key in new[] { "Url", "UserName", "PasswordFile", "PageSize", "Tls:PinnedSha256Thumbprints:0" })
        {
            Assert.Contains($"Agent:Drivers:vc1:{key}:", ex.Message, StringComparison.Ordinal);
        }
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
