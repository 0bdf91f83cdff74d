using Hypervisors.Conformance;

namespace Hypervisors.Esx.Tests.Conformance;

public sealed class EsxHttpConnectionLossTests(EsxHttpFixture f) : ConnectionLossTests<EsxHttpFixture>(f);
