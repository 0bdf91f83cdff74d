namespace Hypervisors.Fake.Tests.Teeth;

/// <summary>How the kit treats a fixture whose driver cannot be made on this machine.</summary>
public sealed class KitFixtureTests
{
    [Fact]
    public async Task A_fixture_that_skips_while_making_its_driver_skips_every_kit_test()
    {
        var run = await KitRunner.RunAsync(() => new SkippingFixture());
        Assert.True(run.Failed.Count == 0 && run.Passed.Count == 0, run.Describe());
        Assert.True(run.Skipped.Count >= 60, run.Describe());
    }

    [Fact]
    public async Task Fresh_names_carry_the_fixture_prefix_and_never_repeat()
    {
        var fixture = new FakeFixture();
        var names = Enumerable.Range(0, 100).Select(_ => fixture.NewName()).ToList();
        Assert.All(names, n => Assert.StartsWith(fixture.NamePrefix, n, StringComparison.Ordinal));
        Assert.Equal(100, names.Distinct().Count());
        Assert.NotEqual(fixture.NamePrefix, new FakeFixture().NamePrefix);
        await fixture.DisposeAsync();
    }

    private sealed class SkippingFixture : FakeFixture
    {
        protected override IHypervisorDriver MakeDriver()
        {
            Assert.Skip("libvirtd is not available on this machine.");
            return null!;
        }
    }
}
