using System.Reflection;
using Hypervisors.Conformance;

namespace Hypervisors.Uml.Tests;

// The whole conformance kit against real UML guests.
public sealed class UmlHostTests(UmlKitFixture fixture) : HostTests<UmlKitFixture>(fixture);

public sealed class UmlLifecycleTests(UmlKitFixture fixture) : LifecycleTests<UmlKitFixture>(fixture);

public sealed class UmlCreateTests(UmlKitFixture fixture) : CreateTests<UmlKitFixture>(fixture)
{
    /// <summary>
    /// The kit asks for 2 vCPUs here; UML 6.1 is uniprocessor, so the driver refuses that naming the field, and the
    /// round trip of name, vCPUs and memory is checked with the one vCPU it has.
    /// </summary>
    public override async Task Instance_info_reports_the_name_vcpus_and_memory_of_the_spec()
    {
        var two = NewSpec(s => s with { VCpus = 2 });
        var refused = await Assert.ThrowsAsync<InvalidSpecException>(() => Driver.CreateInstanceAsync(two, Ct));
        Assert.Equal("spec.VCpus", refused.Field);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(two.Id, Ct));

        var spec = NewSpec(s => s with { MemoryMiB = s.MemoryMiB * 2 });
        var created = await Driver.CreateInstanceAsync(spec, Ct);
        try
        {
            foreach (var info in new[] { created, await Driver.GetInstanceAsync(spec.Id, Ct) })
            {
                Assert.Equal((spec.Name, 1, spec.MemoryMiB), (info.Name, info.VCpus, info.MemoryMiB));
            }
        }
        finally
        {
            await Driver.DeleteInstanceAsync(spec.Id, Ct);
        }
    }
}

public sealed class UmlListTests(UmlKitFixture fixture) : ListTests<UmlKitFixture>(fixture);

public sealed class UmlDeviceTests(UmlKitFixture fixture) : DeviceTests<UmlKitFixture>(fixture);

public sealed class UmlEventTests(UmlKitFixture fixture) : EventTests<UmlKitFixture>(fixture);

public sealed class UmlConcurrencyTests(UmlKitFixture fixture) : ConcurrencyTests<UmlKitFixture>(fixture);

public sealed class UmlCancellationTests(UmlKitFixture fixture) : CancellationTests<UmlKitFixture>(fixture);

public sealed class UmlComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(UmlComplianceTests).Assembly;

    protected override IReadOnlyDictionary<Type, string> SkippedSuites => new Dictionary<Type, string>
    {
        [typeof(ConnectionLossTests<>)] = "the UML driver has no connection to lose: it watches local processes and sockets. "
            + "Losing the driver itself (SIGKILL, then a new driver re-adopting running guests) is UmlReadoptionTests.",
    };
}
