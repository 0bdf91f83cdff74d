using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Hypervisors.Uml.Tests;

/// <summary>Kind <c>uml</c> through the SDK's driver-kind registration point, options bound from configuration and checked at start.</summary>
public sealed class UmlDriverKindTests : IDisposable
{
    private readonly UmlTestHost _host = new();

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public async Task Kind_uml_from_configuration_makes_a_uml_driver_with_the_bound_options()
    {
        var config = Config(("Agent:Drivers:u1:Kind", "uml"), ("Agent:Drivers:u1:StateDirectory", _host.StateDirectory),
            ("Agent:Drivers:u1:AllowedImageDirectories:0", _host.ImageDirectory), ("Agent:Drivers:u1:Networks:default", string.Empty),
            ("Agent:Drivers:u1:BootTimeout", "00:00:45"));
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKinds(typeof(UmlDriver).Assembly).AddDriversFromConfiguration(config.GetSection("Agent:Drivers")));
        await using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var driver = provider.GetRequiredKeyedService<IHypervisorDriver>("u1");
        var uml = Assert.IsType<UmlDriver>(driver.GetService(typeof(UmlDriver)));
        Assert.Equal("UML", driver.Capabilities.HypervisorType);
        Assert.True(Directory.Exists(Path.Combine(_host.StateDirectory, "instances")));
        Assert.Equal(1, uml.Capabilities.SupportsPause ? 1 : 0);
    }

    [Fact]
    public async Task Bad_uml_options_stop_start_up_naming_their_keys()
    {
        var config = Config(("Agent:Drivers:u1:Kind", "uml"), ("Agent:Drivers:u1:StateDirectory", "relative/path"),
            ("Agent:Drivers:u1:AllowedImageDirectories:0", "images"), ("Agent:Drivers:u1:HaltTimeout", "00:00:00"));
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKinds(typeof(UmlDriver).Assembly).AddDriversFromConfiguration(config.GetSection("Agent:Drivers")));
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Agent:Drivers:u1:StateDirectory: 'relative/path' is not an absolute path.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Agent:Drivers:u1:AllowedImageDirectories:0: 'images' is not an absolute path.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Agent:Drivers:u1:HaltTimeout: must be positive", ex.Message, StringComparison.Ordinal);
        Assert.Throws<OptionsValidationException>(() => new UmlDriver(new UmlDriverOptions { StateDirectory = "relative" }));
    }

    public void Dispose() => _host.Dispose();
}
