namespace Hypervisors.Libvirt.Tests.RealGuest;

/// <summary>libvirtd restarts under a running driver: the call on the lost connection fails as retryable, the next one reconnects.</summary>
[Collection(LibvirtdCollection.Name)]
public sealed class ReconnectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_libvirtd_restart_fails_the_lost_call_as_unavailable_and_the_driver_reconnects()
    {
        CiHost.Require();
        await using var driver = CiHost.NewDriver();
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "ci-reconnect-" + Guid.NewGuid().ToString("N")[..8], VCpus = 1, MemoryMiB = 64 };
        await driver.CreateInstanceAsync(spec, Ct);
        var events = driver.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
        try
        {
            await CiHost.StopDaemonAsync(Ct);
            try
            {
                var lost = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.ListInstancesAsync(Ct));
                Assert.True(lost.IsTransient);
                await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.GetHostInfoAsync(Ct));
            }
            finally
            {
                await CiHost.StartDaemonAsync(Ct);
            }

            // The daemon takes a moment to listen again; until then calls keep failing as unavailable, never otherwise.
            IReadOnlyList<InstanceInfo>? after = null;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (after is null)
            {
                try
                {
                    after = await driver.ListInstancesAsync(Ct);
                }
                catch (HypervisorUnavailableException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(250, Ct);
                }
            }

            // The same instance, read through the new connection, and operations on it work again.
            Assert.Contains(after, i => i.Id == spec.Id && i.Name == spec.Name && i.PowerState == PowerState.Shutdown);
            Assert.False(string.IsNullOrEmpty((await driver.GetHostInfoAsync(Ct)).HostName));
            await driver.DeleteInstanceAsync(spec.Id, Ct);
            await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(spec.Id, Ct));
        }
        finally
        {
            await events.DisposeAsync();
            try
            {
                await driver.DeleteInstanceAsync(spec.Id, CancellationToken.None);
            }
            catch (HypervisorException)
            {
                // Deleted by the test, or the daemon is still down; nothing more to do.
            }
        }
    }
}
