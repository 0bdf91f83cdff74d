using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

[assembly: Hypervisors.HypervisorDriverKind(typeof(Hypervisors.Tests.DriverOptionsRegistrationTests.SampleKind))]

namespace Hypervisors.Tests;

public sealed class DriverOptionsRegistrationTests
{
    private static readonly DriverCapabilities Minimal = new() { HypervisorType = "Sample", SupportsDeviceListing = false };

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public async Task Bad_configuration_stops_start_up_with_a_message_naming_the_key()
    {
        var config = Config(("Drivers:s1:Kind", "sample"), ("Drivers:s1:Url", "ftp://host/"), ("Drivers:s1:UserName", "root"),
            ("Drivers:s1:PasswordFile", "/nonexistent/secret"), ("Drivers:s1:Retries", "99"), ("Drivers:s1:Tls:PinnedSha256Thumbprints:0", "abc"));
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKinds(typeof(DriverOptionsRegistrationTests).Assembly).AddDriversFromConfiguration(config.GetSection("Drivers")));
        await using var provider = services.BuildServiceProvider();

        // What the generic host runs at start (ValidateOnStart).
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Drivers:s1:Url: 'ftp://host/' is not an absolute http or https URL.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Drivers:s1:PasswordFile: the file '/nonexistent/secret' does not exist.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Drivers:s1:Tls:PinnedSha256Thumbprints:0:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Drivers:s1:Retries:", ex.Message, StringComparison.Ordinal);

        // Without a host, the driver is not created from bad options either.
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<IHypervisorDriver>("s1"));
    }

    [Fact]
    public async Task Good_configuration_binds_reads_the_password_file_at_each_login_and_uses_the_containers_clock()
    {
        var secret = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(secret, "first\n", TestContext.Current.CancellationToken);
            var config = Config(("Drivers:s1:Kind", "SAMPLE"), ("Drivers:s1:Url", "https://host/sdk"), ("Drivers:s1:UserName", "root"),
                ("Drivers:s1:PasswordFile", secret), ("Drivers:s1:Retries", "3"), ("Drivers:s1:Tls:PinnedSha256Thumbprints:0", new string('a', 64)));
            var clock = new FakeTimeProvider();
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(clock);
            services.AddHypervisors(h => h.AddDriverKind(new SampleKind()).AddDriversFromConfiguration(config.GetSection("Drivers")));
            await using var provider = services.BuildServiceProvider();
            provider.GetRequiredService<IStartupValidator>().Validate();

            var driver = Assert.IsType<SampleDriver>(provider.GetRequiredService<IHypervisorDriverRegistry>().Get("s1"));
            Assert.Same(clock, driver.Clock);
            Assert.Equal(3, driver.Options.Retries);
            Assert.Equal(new Uri("https://host/sdk"), driver.Options.Url);
            Assert.Single(driver.Options.Tls.PinnedSha256Thumbprints);
            Assert.Equal("first", (await driver.Options.GetCredentialAsync(TestContext.Current.CancellationToken)).Password);
            await File.WriteAllTextAsync(secret, "rotated", TestContext.Current.CancellationToken);
            Assert.Equal("rotated", (await driver.Options.GetCredentialAsync(TestContext.Current.CancellationToken)).Password);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public void An_unknown_or_missing_kind_is_refused_naming_the_key_and_the_registered_kinds()
    {
        var config = Config(("Drivers:a:Kind", "nope"), ("Drivers:b:Url", "https://x/"));
        var services = new ServiceCollection();
        var ex = Assert.Throws<OptionsValidationException>(() =>
            services.AddHypervisors(h => h.AddDriverKind(new SampleKind()).AddDriversFromConfiguration(config.GetSection("Drivers"))));
        Assert.Contains("Drivers:a:Kind: 'nope' is not a registered driver kind; registered kinds: sample.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Drivers:b:Kind: is required", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_set_in_code_are_validated_under_the_drivers_name()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriver<SampleOptions>("code", o => o.Retries = -1, SampleOptions.Check, (s, o) => new SampleDriver(o, s.TimeProvider)));
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("code:Retries:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("code:Url: is required.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kind_is_registered_once_and_a_clash_is_refused()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h =>
        {
            h.AddDriverKinds(typeof(DriverOptionsRegistrationTests).Assembly).AddDriverKind(new SampleKind());
            Assert.Equal(["sample"], h.DriverKinds);
            Assert.Throws<InvalidOperationException>(() => h.AddDriverKind("sample", (_, _, _) => { }));
        });
    }

    public sealed class SampleOptions : RemoteHypervisorOptions
    {
        public int Retries { get; set; } = 1;

        public static IEnumerable<string> Check(SampleOptions options, string keyPrefix)
        {
            foreach (var failure in options.Validate(keyPrefix))
            {
                yield return failure;
            }

            if (options.Retries is < 0 or > 10)
            {
                yield return $"{keyPrefix}:{nameof(Retries)}: must be between 0 and 10.";
            }
        }
    }

    public sealed class SampleKind : IHypervisorDriverKind
    {
        public string Kind => "sample";

        public void AddDriver(HypervisorsBuilder builder, string name, IConfigurationSection section) =>
            builder.AddDriver<SampleOptions>(name, section, SampleOptions.Check, (services, options) => new SampleDriver(options, services.TimeProvider));
    }

    private sealed class SampleDriver(SampleOptions options, TimeProvider clock) : HypervisorDriverBase(clock)
    {
        public SampleOptions Options { get; } = options;

        public TimeProvider Clock => TimeProvider;

        public override DriverCapabilities Capabilities => Minimal;

        protected override Task<HostInfo> GetHostInfoCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<IReadOnlyList<InstanceInfo>> ListInstancesCoreAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<InstanceInfo> GetInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task<InstanceInfo> CreateInstanceCoreAsync(InstanceSpec spec, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task StartInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task PowerOffInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task RebootInstanceCoreAsync(Guid instanceId, RebootKind kind, CancellationToken cancellationToken) => throw new NotSupportedException();

        protected override Task DeleteInstanceCoreAsync(Guid instanceId, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
