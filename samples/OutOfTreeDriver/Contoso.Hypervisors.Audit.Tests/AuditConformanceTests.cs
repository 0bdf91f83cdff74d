using System.Reflection;
using Hypervisors;
using Hypervisors.Conformance;
using Hypervisors.Fake;
using Xunit;

namespace Contoso.Hypervisors.Audit.Tests;

/// <summary>The kit's fixture for the audit driver over a fresh in-memory host.</summary>
public sealed class AuditFixture : DriverFixture
{
    public override bool HostResourcesAreExclusive => true;

    protected override Task<IHypervisorDriver> CreateDriverAsync() =>
        Task.FromResult<IHypervisorDriver>(new AuditingHypervisorDriver(new FakeHypervisorDriver()));
}

public sealed class AuditHostTests(AuditFixture f) : HostTests<AuditFixture>(f);

public sealed class AuditLifecycleTests(AuditFixture f) : LifecycleTests<AuditFixture>(f);

public sealed class AuditCreateTests(AuditFixture f) : CreateTests<AuditFixture>(f);

public sealed class AuditListTests(AuditFixture f) : ListTests<AuditFixture>(f);

public sealed class AuditDeviceTests(AuditFixture f) : DeviceTests<AuditFixture>(f);

public sealed class AuditEventTests(AuditFixture f) : EventTests<AuditFixture>(f);

public sealed class AuditConcurrencyTests(AuditFixture f) : ConcurrencyTests<AuditFixture>(f);

public sealed class AuditCancellationTests(AuditFixture f) : CancellationTests<AuditFixture>(f);

public sealed class AuditComplianceTests : ComplianceTests
{
    protected override Assembly TargetAssembly => typeof(AuditComplianceTests).Assembly;
}

public sealed class AuditTrailTests
{
    [Fact]
    public async Task Every_mutating_call_is_recorded_with_its_outcome_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var driver = new AuditingHypervisorDriver(new FakeHypervisorDriver());
        var id = Guid.NewGuid();
        await driver.CreateInstanceAsync(new InstanceSpec { Id = id, Name = "audited", VCpus = 1, MemoryMiB = 64 }, ct);
        await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PauseInstanceAsync(id, ct));
        await driver.StartInstanceAsync(id, ct);
        await driver.DeleteInstanceAsync(id, ct);

        Assert.Equal(
            [
                new AuditEntry(id, InstanceOperation.Create, null),
                new AuditEntry(id, InstanceOperation.Pause, HypervisorErrorKind.InvalidPowerState),
                new AuditEntry(id, InstanceOperation.Start, null),
                new AuditEntry(id, InstanceOperation.Delete, null),
            ],
            driver.Trail);
    }
}
