using System.Reflection;
using Hypervisors;
using Hypervisors.Conformance;
using Hypervisors.Fake;
using Xunit;

namespace Contoso.Hypervisors.Audit.Tests;

// Every suite of the kit, each subclassed once with the fixture. A suite the driver cannot run at all would instead be
// listed in AuditComplianceTests.SkippedSuites with the reason; AuditComplianceTests fails when one is neither.
public sealed class AuditHostTests(AuditFixture f) : HostTests<AuditFixture>(f);

public sealed class AuditLifecycleTests(AuditFixture f) : LifecycleTests<AuditFixture>(f);

public sealed class AuditCreateTests(AuditFixture f) : CreateTests<AuditFixture>(f);

public sealed class AuditListTests(AuditFixture f) : ListTests<AuditFixture>(f);

public sealed class AuditDeviceTests(AuditFixture f) : DeviceTests<AuditFixture>(f);

public sealed class AuditEventTests(AuditFixture f) : EventTests<AuditFixture>(f);

public sealed class AuditConcurrencyTests(AuditFixture f) : ConcurrencyTests<AuditFixture>(f);

public sealed class AuditCancellationTests(AuditFixture f) : CancellationTests<AuditFixture>(f);

public sealed class AuditFaultTests(AuditFixture f) : FaultTests<AuditFixture>(f);

public sealed class AuditGuestCooperationTests(AuditFixture f) : GuestCooperationTests<AuditFixture>(f);

public sealed class AuditConnectionLossTests(AuditFixture f) : ConnectionLossTests<AuditFixture>(f);

/// <summary>
/// Fails when a kit suite is neither subclassed above nor skipped with a reason, and when a fixture hook is neither
/// implemented nor declared missing with a reason (so a newer kit's suites and hooks are not silently left out).
/// </summary>
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
