using Hypervisors.Conformance;

namespace Hypervisors.HyperV.Tests;

public sealed class HyperVConnectionLossTests(HyperVFixture fixture) : ConnectionLossTests<HyperVFixture>(fixture);
