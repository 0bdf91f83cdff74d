using Hypervisors.Conformance;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Fake.Tests;

/// <summary>The fake behind the logging and telemetry decorators: they must keep the whole contract intact.</summary>
public sealed class DecoratedFakeFixture : FakeFixture
{
    protected override IHypervisorDriver Wrap(FakeHypervisorDriver fake) =>
        new OpenTelemetryHypervisorDriver(new LoggingHypervisorDriver(fake, NullLogger.Instance, "decorated"), "decorated");
}

public sealed class DecoratedFakeHostTests(DecoratedFakeFixture fixture) : HostTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeLifecycleTests(DecoratedFakeFixture fixture) : LifecycleTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeCreateTests(DecoratedFakeFixture fixture) : CreateTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeListTests(DecoratedFakeFixture fixture) : ListTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeDeviceTests(DecoratedFakeFixture fixture) : DeviceTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeEventTests(DecoratedFakeFixture fixture) : EventTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeConcurrencyTests(DecoratedFakeFixture fixture) : ConcurrencyTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeFaultTests(DecoratedFakeFixture fixture) : FaultTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeCancellationTests(DecoratedFakeFixture fixture) : CancellationTests<DecoratedFakeFixture>(fixture);

public sealed class DecoratedFakeGuestCooperationTests(DecoratedFakeFixture fixture) : GuestCooperationTests<DecoratedFakeFixture>(fixture);
