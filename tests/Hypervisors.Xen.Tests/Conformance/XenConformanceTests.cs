using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Xen.Tests.Conformance;

// The whole conformance kit against the XenAPI simulator, over XML-RPC and JSON-RPC, with new guests that have no
// PV drivers (as xapi creates them) and with guests that have them.

// XML-RPC, guests without PV drivers
public sealed class XenXmlRpcHostTests(XenXmlRpcFixture f) : HostTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcLifecycleTests(XenXmlRpcFixture f) : LifecycleTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcCreateTests(XenXmlRpcFixture f) : CreateTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcListTests(XenXmlRpcFixture f) : ListTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcDeviceTests(XenXmlRpcFixture f) : DeviceTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcEventTests(XenXmlRpcFixture f) : EventTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcConcurrencyTests(XenXmlRpcFixture f) : ConcurrencyTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcCancellationTests(XenXmlRpcFixture f) : CancellationTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcFaultTests(XenXmlRpcFixture f) : FaultTests<XenXmlRpcFixture>(f);
public sealed class XenXmlRpcGuestCooperationTests(XenXmlRpcFixture f) : GuestCooperationTests<XenXmlRpcFixture>(f);

// JSON-RPC, guests without PV drivers
public sealed class XenJsonRpcHostTests(XenJsonRpcFixture f) : HostTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcLifecycleTests(XenJsonRpcFixture f) : LifecycleTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcCreateTests(XenJsonRpcFixture f) : CreateTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcListTests(XenJsonRpcFixture f) : ListTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcDeviceTests(XenJsonRpcFixture f) : DeviceTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcEventTests(XenJsonRpcFixture f) : EventTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcConcurrencyTests(XenJsonRpcFixture f) : ConcurrencyTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcCancellationTests(XenJsonRpcFixture f) : CancellationTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcFaultTests(XenJsonRpcFixture f) : FaultTests<XenJsonRpcFixture>(f);
public sealed class XenJsonRpcGuestCooperationTests(XenJsonRpcFixture f) : GuestCooperationTests<XenJsonRpcFixture>(f);

// XML-RPC, guests with PV drivers
public sealed class XenXmlRpcPvDriversHostTests(XenXmlRpcPvDriversFixture f) : HostTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversLifecycleTests(XenXmlRpcPvDriversFixture f) : LifecycleTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversCreateTests(XenXmlRpcPvDriversFixture f) : CreateTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversListTests(XenXmlRpcPvDriversFixture f) : ListTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversDeviceTests(XenXmlRpcPvDriversFixture f) : DeviceTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversEventTests(XenXmlRpcPvDriversFixture f) : EventTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversConcurrencyTests(XenXmlRpcPvDriversFixture f) : ConcurrencyTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversCancellationTests(XenXmlRpcPvDriversFixture f) : CancellationTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversFaultTests(XenXmlRpcPvDriversFixture f) : FaultTests<XenXmlRpcPvDriversFixture>(f);
public sealed class XenXmlRpcPvDriversGuestCooperationTests(XenXmlRpcPvDriversFixture f) : GuestCooperationTests<XenXmlRpcPvDriversFixture>(f);

// JSON-RPC, guests with PV drivers
public sealed class XenJsonRpcPvDriversHostTests(XenJsonRpcPvDriversFixture f) : HostTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversLifecycleTests(XenJsonRpcPvDriversFixture f) : LifecycleTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversCreateTests(XenJsonRpcPvDriversFixture f) : CreateTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversListTests(XenJsonRpcPvDriversFixture f) : ListTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversDeviceTests(XenJsonRpcPvDriversFixture f) : DeviceTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversEventTests(XenJsonRpcPvDriversFixture f) : EventTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversConcurrencyTests(XenJsonRpcPvDriversFixture f) : ConcurrencyTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversCancellationTests(XenJsonRpcPvDriversFixture f) : CancellationTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversFaultTests(XenJsonRpcPvDriversFixture f) : FaultTests<XenJsonRpcPvDriversFixture>(f);
public sealed class XenJsonRpcPvDriversGuestCooperationTests(XenJsonRpcPvDriversFixture f) : GuestCooperationTests<XenJsonRpcPvDriversFixture>(f);

public sealed class XenComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(XenComplianceTests).Assembly;
}
