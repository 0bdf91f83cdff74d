using Hypervisors.Conformance;

namespace Hypervisors.Fake.Tests;

/// <summary>The fake with its simulated connection dropped and restored (<see cref="FakeFaults.Disconnect"/>).</summary>
public sealed class FakeConnectionLossFixture : FakeFixture, IConnectionLossFixture
{
    /// <inheritdoc />
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        var faults = (FakeFaults)Driver.GetService(typeof(FakeFaults))!;
        faults.Disconnect();
        try
        {
            await Assert.ThrowsAsync<HypervisorUnavailableException>(() => Driver.ListInstancesAsync(cancellationToken));
            if (whileDown is not null)
            {
                await whileDown(null); // one in-memory host per driver: there is no second client
            }
        }
        finally
        {
            faults.Reconnect();
        }
    }
}

public sealed class FakeConnectionLossTests(FakeConnectionLossFixture fixture) : ConnectionLossTests<FakeConnectionLossFixture>(fixture);
