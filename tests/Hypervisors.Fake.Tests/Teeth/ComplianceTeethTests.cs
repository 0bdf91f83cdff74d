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
            ["CancellationTests`1", "ConcurrencyTests`1", "CreateTests`1", "DeviceTests`1", "EventTests`1", "GuestCooperationTests`1", "HostTests`1", "LifecycleTests`1", "ListTests`1"],
            ComplianceTests.KitSuites.Select(t => t.Name));
    }

    [Fact]
    public void An_assembly_without_suites_fails_naming_every_missing_one()
    {
        var ex = Assert.ThrowsAny<Exception>(() => new Check(typeof(FakeHypervisorDriver).Assembly).Every_kit_suite_is_subclassed_or_skipped_with_a_reason());
        foreach (var suite in new[] { "HostTests", "LifecycleTests", "CreateTests", "ListTests", "DeviceTests", "EventTests", "ConcurrencyTests", "CancellationTests", "GuestCooperationTests" })
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

    private sealed class Check(Assembly target, IReadOnlyDictionary<Type, string>? skipped = null) : ComplianceTests
    {
        protected override Assembly TargetAssembly => target;

        protected override IReadOnlyDictionary<Type, string> SkippedSuites => skipped ?? base.SkippedSuites;
    }
}
