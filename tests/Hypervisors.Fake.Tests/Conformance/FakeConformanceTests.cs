using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Fake.Tests;

// The whole conformance kit against the healthy fake.
public sealed class FakeHostTests(FakeFixture fixture) : HostTests<FakeFixture>(fixture);

public sealed class FakeLifecycleTests(FakeFixture fixture) : LifecycleTests<FakeFixture>(fixture);

public sealed class FakeCreateTests(FakeFixture fixture) : CreateTests<FakeFixture>(fixture);

public sealed class FakeListTests(FakeFixture fixture) : ListTests<FakeFixture>(fixture);

public sealed class FakeDeviceTests(FakeFixture fixture) : DeviceTests<FakeFixture>(fixture);

public sealed class FakeEventTests(FakeFixture fixture) : EventTests<FakeFixture>(fixture);

public sealed class FakeConcurrencyTests(FakeFixture fixture) : ConcurrencyTests<FakeFixture>(fixture);

public sealed class FakeCancellationTests(FakeFixture fixture) : CancellationTests<FakeFixture>(fixture);

public sealed class FakeFaultConformanceTests(FakeFixture fixture) : FaultTests<FakeFixture>(fixture);

public sealed class FakeGuestCooperationTests(FakeFixture fixture) : GuestCooperationTests<FakeFixture>(fixture);

public sealed class FakeComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(FakeComplianceTests).Assembly;
}
