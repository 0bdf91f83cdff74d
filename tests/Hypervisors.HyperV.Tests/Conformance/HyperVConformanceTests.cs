using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.HyperV.Tests;

// The whole conformance kit against the Hyper-V simulator, in process.
public sealed class HyperVHostTests(HyperVFixture fixture) : HostTests<HyperVFixture>(fixture);

public sealed class HyperVLifecycleTests(HyperVFixture fixture) : LifecycleTests<HyperVFixture>(fixture);

public sealed class HyperVCreateTests(HyperVFixture fixture) : CreateTests<HyperVFixture>(fixture);

public sealed class HyperVListTests(HyperVFixture fixture) : ListTests<HyperVFixture>(fixture);

public sealed class HyperVDeviceTests(HyperVFixture fixture) : DeviceTests<HyperVFixture>(fixture);

public sealed class HyperVEventTests(HyperVFixture fixture) : EventTests<HyperVFixture>(fixture);

public sealed class HyperVConcurrencyTests(HyperVFixture fixture) : ConcurrencyTests<HyperVFixture>(fixture);

public sealed class HyperVCancellationTests(HyperVFixture fixture) : CancellationTests<HyperVFixture>(fixture);

public sealed class HyperVFaultTests(HyperVFixture fixture) : FaultTests<HyperVFixture>(fixture);

public sealed class HyperVGuestCooperationTests(HyperVFixture fixture) : GuestCooperationTests<HyperVFixture>(fixture);

public sealed class HyperVComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(HyperVComplianceTests).Assembly;
}
