using Hypervisors.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Hypervisors.Libvirt.Tests;

/// <summary><c>AddLibvirt(name, section)</c>: bound from configuration, validated at start, logging through the container.</summary>
public sealed class RegistrationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void Bad_values_stop_start_up_naming_their_keys()
    {
        var configuration = Config(("Agent:Drivers:kvm:Kind", "libvirt"), ("Agent:Drivers:kvm:Uri", "vbox:///session"),
            ("Agent:Drivers:kvm:InstanceDirectory", "relative/dir"), ("Agent:Drivers:kvm:ConsoleTailBytes", "0"));
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKind(new LibvirtDriverKind()).AddDriversFromConfiguration(configuration.GetSection("Agent:Drivers")));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Agent:Drivers:kvm:Uri: The libvirt driver drives qemu: and test: URIs, not 'vbox:'.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Agent:Drivers:kvm:InstanceDirectory:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Agent:Drivers:kvm:ConsoleTailBytes:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_driver_from_configuration_logs_its_work_with_numbered_events()
    {
        ExternalParts.Require(LibvirtDriver.IsLibvirtAvailable(), "libvirt.so.0 (Debian package libvirt0)");
        var directory = Path.Combine(Path.GetTempPath(), "hypervisors-libvirt-registration-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var uri = await TestHost.WriteNodeAsync(directory);
            var configuration = Config(("Drivers:kvm:Uri", uri), ("Drivers:kvm:InstanceDirectory", directory));
            var logs = new FakeLogCollector();
            var services = new ServiceCollection();
            services.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)).SetMinimumLevel(LogLevel.Debug));
            services.AddHypervisors(h => h.AddLibvirt("kvm", configuration.GetSection("Drivers:kvm")));
            await using var provider = services.BuildServiceProvider();
            provider.GetRequiredService<IStartupValidator>().Validate();

            var driver = provider.GetRequiredKeyedService<IHypervisorDriver>("kvm");
            var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "logged", VCpus = 1, MemoryMiB = 64 };
            await driver.CreateInstanceAsync(spec, Ct);
            await driver.DeleteInstanceAsync(spec.Id, Ct);

            var events = logs.GetSnapshot().Where(r => r.Category == typeof(LibvirtDriver).FullName).Select(r => r.Id.Id).ToList();
            Assert.Equal([2001, 2004, 2005], events);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
