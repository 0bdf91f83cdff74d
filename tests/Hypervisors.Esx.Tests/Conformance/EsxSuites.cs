using Hypervisors.Conformance;

namespace Hypervisors.Esx.Tests.Conformance;

// Every kit suite against each of the four vcsim configurations.

// standalone ESX over HTTP
public sealed class EsxHttpCancellationTests(EsxHttpFixture f) : CancellationTests<EsxHttpFixture>(f);
public sealed class EsxHttpFaultTests(EsxHttpFixture f) : FaultTests<EsxHttpFixture>(f);
public sealed class EsxHttpConcurrencyTests(EsxHttpFixture f) : ConcurrencyTests<EsxHttpFixture>(f);
public sealed class EsxHttpCreateTests(EsxHttpFixture f) : CreateTests<EsxHttpFixture>(f);
public sealed class EsxHttpDeviceTests(EsxHttpFixture f) : DeviceTests<EsxHttpFixture>(f);
public sealed class EsxHttpEventTests(EsxHttpFixture f) : EventTests<EsxHttpFixture>(f);
public sealed class EsxHttpHostTests(EsxHttpFixture f) : HostTests<EsxHttpFixture>(f);
public sealed class EsxHttpLifecycleTests(EsxHttpFixture f) : LifecycleTests<EsxHttpFixture>(f);
public sealed class EsxHttpListTests(EsxHttpFixture f) : ListTests<EsxHttpFixture>(f);
public sealed class EsxHttpGuestCooperationTests(EsxHttpFixture f) : GuestCooperationTests<EsxHttpFixture>(f);

// standalone ESX over HTTPS with a pinned thumbprint
public sealed class EsxHttpsCancellationTests(EsxHttpsFixture f) : CancellationTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsFaultTests(EsxHttpsFixture f) : FaultTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsConcurrencyTests(EsxHttpsFixture f) : ConcurrencyTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsCreateTests(EsxHttpsFixture f) : CreateTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsDeviceTests(EsxHttpsFixture f) : DeviceTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsEventTests(EsxHttpsFixture f) : EventTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsHostTests(EsxHttpsFixture f) : HostTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsLifecycleTests(EsxHttpsFixture f) : LifecycleTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsListTests(EsxHttpsFixture f) : ListTests<EsxHttpsFixture>(f);
public sealed class EsxHttpsGuestCooperationTests(EsxHttpsFixture f) : GuestCooperationTests<EsxHttpsFixture>(f);

// vCenter over HTTP
public sealed class VCenterHttpCancellationTests(VCenterHttpFixture f) : CancellationTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpFaultTests(VCenterHttpFixture f) : FaultTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpConcurrencyTests(VCenterHttpFixture f) : ConcurrencyTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpCreateTests(VCenterHttpFixture f) : CreateTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpDeviceTests(VCenterHttpFixture f) : DeviceTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpEventTests(VCenterHttpFixture f) : EventTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpHostTests(VCenterHttpFixture f) : HostTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpLifecycleTests(VCenterHttpFixture f) : LifecycleTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpListTests(VCenterHttpFixture f) : ListTests<VCenterHttpFixture>(f);
public sealed class VCenterHttpGuestCooperationTests(VCenterHttpFixture f) : GuestCooperationTests<VCenterHttpFixture>(f);

// vCenter over HTTPS with a pinned thumbprint
public sealed class VCenterHttpsCancellationTests(VCenterHttpsFixture f) : CancellationTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsFaultTests(VCenterHttpsFixture f) : FaultTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsConcurrencyTests(VCenterHttpsFixture f) : ConcurrencyTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsCreateTests(VCenterHttpsFixture f) : CreateTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsDeviceTests(VCenterHttpsFixture f) : DeviceTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsEventTests(VCenterHttpsFixture f) : EventTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsHostTests(VCenterHttpsFixture f) : HostTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsLifecycleTests(VCenterHttpsFixture f) : LifecycleTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsListTests(VCenterHttpsFixture f) : ListTests<VCenterHttpsFixture>(f);
public sealed class VCenterHttpsGuestCooperationTests(VCenterHttpsFixture f) : GuestCooperationTests<VCenterHttpsFixture>(f);

public sealed class EsxCompliance : ComplianceTests
{
    protected override System.Reflection.Assembly TargetAssembly => typeof(EsxCompliance).Assembly;
}
