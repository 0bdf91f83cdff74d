using Hypervisors.Conformance;

namespace Hypervisors.Xen.Tests.Conformance;

public sealed class XenXmlRpcConnectionLossTests(XenXmlRpcFixture fixture) : ConnectionLossTests<XenXmlRpcFixture>(fixture);
