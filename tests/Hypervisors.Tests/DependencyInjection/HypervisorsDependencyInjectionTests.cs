using Hypervisors.Fake;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Hypervisors.Tests;

public sealed class HypervisorsDependencyInjectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Named_fakes_resolve_as_keyed_singletons_with_their_own_options()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddFake("east", o => o.HostName = "east-host").AddFake("west", o => o.VCpus = 3));
        await using var provider = services.BuildServiceProvider();

        var east = provider.GetRequiredKeyedService<IHypervisorDriver>("east");
        var west = provider.GetRequiredKeyedService<IHypervisorDriver>("west");
        Assert.Same(east, provider.GetRequiredKeyedService<IHypervisorDriver>("east"));
        Assert.NotSame(east, west);
        Assert.Equal("east-host", (await east.GetHostInfoAsync(Ct)).HostName);
        Assert.Equal(3, (await west.GetHostInfoAsync(Ct)).VCpusTotal);
        Assert.Equal("fake-host", (await west.GetHostInfoAsync(Ct)).HostName);
    }

    [Fact]
    public async Task The_registry_lists_names_in_order_and_resolves_them()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddFake("b"));
        services.AddHypervisors(h => h.AddFake("a"));
        await using var provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<IHypervisorDriverRegistry>();
        Assert.Equal(["b", "a"], registry.Names);
        Assert.Same(provider.GetRequiredKeyedService<IHypervisorDriver>("a"), registry.Get("a"));
        var ex = Assert.Throws<KeyNotFoundException>(() => registry.Get("c"));
        Assert.Contains("b, a", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_or_malformed_driver_name_is_refused()
    {
        var services = new ServiceCollection();
        Assert.Throws<InvalidOperationException>(() => services.AddHypervisors(h => h.AddFake("one").AddFake("one")));
        Assert.Throws<InvalidOperationException>(() => services.AddHypervisors(h => h.AddFake("one")));
        foreach (var bad in new[] { "", "Upper", "with space", new string('a', 64), "dot.name" })
        {
            Assert.Throws<ArgumentException>(() => services.AddHypervisors(h => h.AddFake(bad)));
        }
    }

    [Fact]
    public async Task Invalid_fake_options_fail_when_the_host_starts()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddFake("ok").AddFake("broken", o => o.VCpus = 0));
        await using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Fake hypervisor 'broken': VCpus must be at least 1", ex.Message, StringComparison.Ordinal);
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredKeyedService<IHypervisorDriver>("broken"));
        Assert.NotNull(provider.GetRequiredKeyedService<IHypervisorDriver>("ok"));
    }

    [Fact]
    public async Task Decorators_wrap_every_driver_in_order_last_outermost()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h
            .AddFake("x")
            .Use((name, inner, _) => new Tagged(inner, name + ":first"))
            .Use((name, inner, _) => new Tagged(inner, name + ":second")));
        await using var provider = services.BuildServiceProvider();
        var outer = Assert.IsType<Tagged>(provider.GetRequiredKeyedService<IHypervisorDriver>("x"));
        Assert.Equal("x:second", outer.Tag);
        Assert.Equal("x:first", Assert.IsType<Tagged>(outer.Inner).Tag);
        Assert.NotNull(outer.GetService<FakeFaults>());
    }

    [Fact]
    public async Task A_fake_runs_on_the_containers_time_provider()
    {
        var clock = new FakeTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddHypervisors(h => h.AddFake("timed"));
        await using var provider = services.BuildServiceProvider();
        var driver = provider.GetRequiredKeyedService<IHypervisorDriver>("timed");
        clock.Advance(TimeSpan.FromHours(3));
        Assert.Equal(TimeSpan.FromHours(3), (await driver.GetHostInfoAsync(Ct)).Uptime);
    }

    private sealed class Tagged(IHypervisorDriver inner, string tag) : DelegatingHypervisorDriver(inner)
    {
        public string Tag { get; } = tag;

        public IHypervisorDriver Inner => InnerDriver;
    }
}
