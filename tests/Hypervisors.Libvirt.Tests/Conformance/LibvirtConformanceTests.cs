using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Libvirt.Tests;

// The whole conformance kit against libvirt's test:///default driver.
public sealed class LibvirtHostTests(LibvirtTestDriverFixture fixture) : HostTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtLifecycleTests(LibvirtTestDriverFixture fixture) : LifecycleTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtCreateTests(LibvirtTestDriverFixture fixture) : CreateTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtListTests(LibvirtTestDriverFixture fixture) : ListTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtDeviceTests(LibvirtTestDriverFixture fixture) : DeviceTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtEventTests(LibvirtTestDriverFixture fixture) : EventTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtConcurrencyTests(LibvirtTestDriverFixture fixture) : ConcurrencyTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtCancellationTests(LibvirtTestDriverFixture fixture) : CancellationTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtFaultTests(LibvirtTestDriverFixture fixture) : FaultTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtGuestCooperationTests(LibvirtTestDriverFixture fixture) : GuestCooperationTests<LibvirtTestDriverFixture>(fixture);

public sealed class LibvirtComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(LibvirtComplianceTests).Assembly;
}

/// <summary>The fault suite once more on real QEMU guests, for the console hook; serialized with the other libvirtd users.</summary>
[Collection(RealGuest.LibvirtdCollection.Name)]
public sealed class LibvirtQemuFaultTests(LibvirtQemuFixture fixture) : FaultTests<LibvirtQemuFixture>(fixture);
