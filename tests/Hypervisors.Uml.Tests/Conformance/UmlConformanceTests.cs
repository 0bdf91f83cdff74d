using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Uml.Tests;

// The whole conformance kit against real UML guests.
public sealed class UmlHostTests(UmlKitFixture fixture) : HostTests<UmlKitFixture>(fixture);

public sealed class UmlLifecycleTests(UmlKitFixture fixture) : LifecycleTests<UmlKitFixture>(fixture);

/// <summary>
/// The kit's create suite; UML 6.1 is uniprocessor, which the fixture declares (<see cref="UmlKitFixture.MaxVCpus"/>),
/// so the kit checks that 2 vCPUs are refused naming the field and reads sizes back with the one vCPU there is.
/// </summary>
public sealed class UmlCreateTests(UmlKitFixture fixture) : CreateTests<UmlKitFixture>(fixture);

public sealed class UmlListTests(UmlKitFixture fixture) : ListTests<UmlKitFixture>(fixture);

public sealed class UmlDeviceTests(UmlKitFixture fixture) : DeviceTests<UmlKitFixture>(fixture);

public sealed class UmlEventTests(UmlKitFixture fixture) : EventTests<UmlKitFixture>(fixture);

public sealed class UmlConcurrencyTests(UmlKitFixture fixture) : ConcurrencyTests<UmlKitFixture>(fixture);

public sealed class UmlCancellationTests(UmlKitFixture fixture) : CancellationTests<UmlKitFixture>(fixture);

public sealed class UmlFaultTests(UmlKitFixture fixture) : FaultTests<UmlKitFixture>(fixture);

public sealed class UmlGuestCooperationTests(UmlKitFixture fixture) : GuestCooperationTests<UmlKitFixture>(fixture);

public sealed class UmlComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(UmlComplianceTests).Assembly;

    protected override IReadOnlyDictionary<Type, string> SkippedSuites => new Dictionary<Type, string>
    {
        [typeof(ConnectionLossTests<>)] = "the UML driver has no connection to lose: it watches local processes and sockets. "
            + "Losing the driver itself (SIGKILL, then a new driver re-adopting running guests) is UmlReadoptionTests.",
    };
}
