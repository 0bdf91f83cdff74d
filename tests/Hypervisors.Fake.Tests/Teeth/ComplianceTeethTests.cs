using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Fake.Tests.Teeth;

/// <summary>The compliance check fails a test project that leaves a suite out without a reason, and only then.</summary>
public sealed class ComplianceTeethTests
{
    [Fact]
    public void The_kit_has_nine_suites()
    {
        Assert.Equal(
            ["CancellationTests`1", "ConcurrencyTests`1", "ConnectionLossTests`1", "CreateTests`1", "DeviceTests`1", "EventTests`1", "FaultTests`1", "GuestCooperationTests`1", "HostTests`1", "LifecycleTests`1", "ListTests`1"],
            ComplianceTests.KitSuites.Select(t => t.Name));
    }

    [Fact]
    public void An_assembly_without_suites_fails_naming_every_missing_one()
    {
        var ex = Assert.ThrowsAny<Exception>(() => new Check(typeof(FakeHypervisorDriver).Assembly).Every_kit_suite_is_subclassed_or_skipped_with_a_reason());
        foreach (var suite in new[] { "HostTests", "LifecycleTests", "CreateTests", "ListTests", "DeviceTests", "EventTests", "ConcurrencyTests", "CancellationTests", "ConnectionLossTests", "FaultTests", "GuestCooperationTests" })
        {
            Assert.Contains(suite, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Suites_skipped_with_a_reason_pass_and_without_one_fail()
    {
        var all = ComplianceTests.KitSuites.ToDictionary(t => t, _ => "the hypervisor has no API for it");
        new Check(typeof(FakeHypervisorDriver).Assembly, all).Every_kit_suite_is_subclassed_or_skipped_with_a_reason();

        all[typeof(EventTests<>)] = " ";
        var ex = Assert.ThrowsAny<Exception>(() => new Check(typeof(FakeHypervisorDriver).Assembly, all).Every_kit_suite_is_subclassed_or_skipped_with_a_reason());
        Assert.Contains("EventTests", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("HostTests", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Skipping_a_type_that_is_not_a_suite_fails()
    {
        var skipped = new Dictionary<Type, string> { [typeof(FakeHostTests)] = "not a generic suite definition" };
        var ex = Assert.ThrowsAny<Exception>(() => new Check(typeof(FakeHostTests).Assembly, skipped).Every_kit_suite_is_subclassed_or_skipped_with_a_reason());
        Assert.Contains("FakeHostTests", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void This_assembly_passes() => new Check(typeof(FakeHostTests).Assembly).Every_kit_suite_is_subclassed_or_skipped_with_a_reason();

    [Fact]
    public void The_fake_fixture_implements_every_hook() => Assert.Empty(ComplianceTests.HookProblems(typeof(FakeFixture)));

    [Fact]
    public void A_fixture_that_neither_implements_nor_declares_a_hook_fails_naming_it()
    {
        var problems = ComplianceTests.HookProblems(typeof(SilentFixture));
        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.Contains("CrashInstanceAsync", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("CreateOwnDriverAsync", StringComparison.Ordinal));
    }

    [Fact]
    public void A_hook_declared_missing_without_a_reason_or_also_implemented_fails()
    {
        var problems = ComplianceTests.HookProblems(typeof(ContradictoryFixture));
        Assert.Contains(problems, p => p.Contains("declares the CrashInstance hook missing without a reason", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("implements CreateOwnDriverAsync but also declares the OwnDriver hook missing", StringComparison.Ordinal));
        Assert.Equal(2, problems.Count);
    }

    [Fact]
    public void A_fixture_that_declares_every_hook_missing_with_reasons_passes() => Assert.Empty(ComplianceTests.HookProblems(typeof(DeclaringFixture)));

    [Fact]
    public async Task A_test_whose_hook_is_declared_missing_skips_with_the_reason()
    {
        var fixture = new DeclaringFixture();
        Exception? ex = null;
        try
        {
            fixture.SkipUnlessHook(FixtureHook.FillHost);
        }
        catch (Exception thrown)
        {
            ex = thrown;
        }

        Assert.Equal("SkipException", ex?.GetType().Name);
        new FakeFixture().SkipUnlessHook(FixtureHook.FillHost); // implemented: no skip
        Assert.Contains("no host to fill", ex!.Message, StringComparison.Ordinal);
        await fixture.DisposeAsync();
    }

    private class SilentFixture : DriverFixture
    {
        protected override Task<IHypervisorDriver> CreateDriverAsync() => Task.FromResult<IHypervisorDriver>(new FakeHypervisorDriver());
    }

    private sealed class DeclaringFixture : SilentFixture
    {
        public override IReadOnlyDictionary<FixtureHook, string> MissingHooks =>
            Enum.GetValues<FixtureHook>().ToDictionary(h => h, h => h == FixtureHook.FillHost ? "no host to fill" : "not available");
    }

    private sealed class ContradictoryFixture : SilentFixture
    {
        public override IReadOnlyDictionary<FixtureHook, string> MissingHooks => new Dictionary<FixtureHook, string>
        {
            [FixtureHook.CrashInstance] = " ",
            [FixtureHook.SlowOperation] = "reason",
            [FixtureHook.FillHost] = "reason",
            [FixtureHook.WriteConsole] = "reason",
            [FixtureHook.OwnDriver] = "reason",
        };

        public override Task<IHypervisorDriver> CreateOwnDriverAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IHypervisorDriver>(new FakeHypervisorDriver());
    }

    private sealed class Check(Assembly target, IReadOnlyDictionary<Type, string>? skipped = null) : ComplianceTests
    {
        protected override Assembly TargetAssembly => target;

        protected override IReadOnlyDictionary<Type, string> SkippedSuites => skipped ?? base.SkippedSuites;
    }
}
