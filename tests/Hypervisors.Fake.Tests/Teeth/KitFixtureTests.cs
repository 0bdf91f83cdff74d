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

    [Fact]
    public async Task A_declared_vcpu_limit_the_driver_does_not_enforce_fails_the_limit_test()
    {
        // The fake takes 2 vCPUs, so a fixture that declares a limit of 1 for it declares a refusal the driver lacks.
        const string limitTest = "A_spec_above_the_declared_vcpu_limit_is_refused_naming_the_field_and_creates_nothing";
        var run = await KitRunner.RunAsync(() => new OneVCpuFixture(), limitTest);
        Assert.True(run.FailedTest(limitTest), run.Describe());

        var healthy = await KitRunner.RunAsync(() => new FakeFixture(), limitTest);
        Assert.True(healthy.Skipped.Count == 1 && healthy.Failed.Count == 0, "Without a declared limit the limit test skips. " + healthy.Describe());
    }

    [Fact]
    public async Task A_declared_vcpu_limit_lowers_the_non_default_sizes_the_kit_asks_for()
    {
        const string sizesTest = "Non_default_sizes_and_metadata_read_back_through_get_and_list_in_every_state";
        var run = await KitRunner.RunAsync(() => new OneVCpuFixture(), sizesTest);
        Assert.True(run.Failed.Count == 0 && run.Passed.Count == 4, run.Describe());
    }

    private sealed class OneVCpuFixture : FakeFixture
    {
        public override int? MaxVCpus => 1;
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
