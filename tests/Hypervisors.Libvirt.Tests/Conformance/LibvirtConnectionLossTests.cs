using Hypervisors.Conformance;

namespace Hypervisors.Libvirt.Tests;

public sealed class LibvirtConnectionLossTests(LibvirtTestDriverFixture fixture) : ConnectionLossTests<LibvirtTestDriverFixture>(fixture);
