using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Xen.Tests.Conformance;

// The whole conformance kit against the XenAPI simulator, over XML-RPC ...
public sealed class XenXmlRpcHostTests(XenXmlRpcFixture fixture) : HostTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcLifecycleTests(XenXmlRpcFixture fixture) : LifecycleTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcCreateTests(XenXmlRpcFixture fixture) : CreateTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcListTests(XenXmlRpcFixture fixture) : ListTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcDeviceTests(XenXmlRpcFixture fixture) : DeviceTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcEventTests(XenXmlRpcFixture fixture) : EventTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcConcurrencyTests(XenXmlRpcFixture fixture) : ConcurrencyTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcCancellationTests(XenXmlRpcFixture fixture) : CancellationTests<XenXmlRpcFixture>(fixture);

public sealed class XenXmlRpcFaultTests(XenXmlRpcFixture fixture) : FaultTests<XenXmlRpcFixture>(fixture);

// ... and over JSON-RPC.
public sealed class XenJsonRpcHostTests(XenJsonRpcFixture fixture) : HostTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcLifecycleTests(XenJsonRpcFixture fixture) : LifecycleTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcCreateTests(XenJsonRpcFixture fixture) : CreateTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcListTests(XenJsonRpcFixture fixture) : ListTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcDeviceTests(XenJsonRpcFixture fixture) : DeviceTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcEventTests(XenJsonRpcFixture fixture) : EventTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcConcurrencyTests(XenJsonRpcFixture fixture) : ConcurrencyTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcCancellationTests(XenJsonRpcFixture fixture) : CancellationTests<XenJsonRpcFixture>(fixture);

public sealed class XenJsonRpcFaultTests(XenJsonRpcFixture fixture) : FaultTests<XenJsonRpcFixture>(fixture);

public sealed class XenComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(XenComplianceTests).Assembly;
}
