using Hypervisors.Conformance;

namespace Hypervisors.Xen.Tests.Conformance;

public sealed class XenXmlRpcConnectionLossTests(XenXmlRpcFixture fixture) : ConnectionLossTests<XenXmlRpcFixture>(fixture);
public sealed class XenJsonRpcConnectionLossTests(XenJsonRpcFixture fixture) : ConnectionLossTests<XenJsonRpcFixture>(fixture);
public sealed class XenXmlRpcPvDriversConnectionLossTests(XenXmlRpcPvDriversFixture fixture) : ConnectionLossTests<XenXmlRpcPvDriversFixture>(fixture);
public sealed class XenJsonRpcPvDriversConnectionLossTests(XenJsonRpcPvDriversFixture fixture) : ConnectionLossTests<XenJsonRpcPvDriversFixture>(fixture);
