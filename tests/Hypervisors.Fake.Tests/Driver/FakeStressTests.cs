using System.Collections.Concurrent;

namespace Hypervisors.Fake.Tests;

/// <summary>Many callers at once: the fake's accounting and its event stream stay consistent with its state.</summary>
public sealed class FakeStressTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Random_concurrent_operations_keep_accounting_and_the_last_event_of_each_instance_consistent()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { VCpus = 12, MemoryMiB = 6 * 1024 });
        var ids = Enumerable.Range(0, 16).Select(_ => Guid.NewGuid()).ToArray();
        var lastEvent = new ConcurrentDictionary<Guid, InstanceEvent>();
        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var events = driver.WatchEventsAsync(watchStop.Token);
        var watcher = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in events)
                {
                    lastEvent[e.InstanceId] = e;
                }
            }
            catch (OperationCanceledException)
            {
                // Stopped below.
            }
        }, Ct);

        var succeeded = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 8), Ct, async (worker, ct) =>
        {
            var random = new Random(worker);
            for (var step = 0; step < 300; step++)
            {
                var index = random.Next(ids.Length);
                var id = ids[index];
                try
                {
                    await (random.Next(10) switch
                    {
                        0 => driver.CreateInstanceAsync(new InstanceSpec { Id = id, Name = "vm-" + index, VCpus = 1 + (index % 3), MemoryMiB = 512 }, ct),
                        1 => driver.StartInstanceAsync(id, ct),
                        2 => driver.PowerOffInstanceAsync(id, ct),
                        3 => driver.PauseInstanceAsync(id, ct),
                        4 => driver.UnpauseInstanceAsync(id, ct),
                        5 => driver.SuspendInstanceAsync(id, ct),
                        6 => driver.ResumeInstanceAsync(id, ct),
                        7 => driver.RebootInstanceAsync(id, RebootKind.Hard, ct),
                        8 => driver.StopInstanceAsync(id, TimeSpan.FromSeconds(1), ct),
                        _ => driver.DeleteInstanceAsync(id, ct),
                    });
                    Interlocked.Increment(ref succeeded);
                }
                catch (HypervisorException ex) when (ex.Kind is HypervisorErrorKind.InvalidPowerState or HypervisorErrorKind.NotFound or HypervisorErrorKind.InsufficientResources)
                {
                    // Expected: the operations race each other on purpose.
                }
            }
        });

        Assert.True(succeeded > 300, $"Only {succeeded} of 2400 operations succeeded; the mix exercised too little.");
        var instances = await driver.ListInstancesAsync(Ct);
        var host = await driver.GetHostInfoAsync(Ct);
        var holding = instances.Where(i => i.PowerState is PowerState.Running or PowerState.Paused).ToList();
        Assert.Equal(holding.Sum(i => i.VCpus), host.VCpusUsed);
        Assert.Equal(holding.Sum(i => i.MemoryMiB), host.MemoryMiBUsed);
        Assert.InRange(host.VCpusUsed, 0, host.VCpusTotal);
        Assert.InRange(host.MemoryMiBUsed, 0, host.MemoryMiBTotal);

        // Mark the end of the stream with one more event, then compare each instance's last event with its state.
        var marker = new InstanceSpec { Id = Guid.NewGuid(), Name = "marker", VCpus = 1, MemoryMiB = 64 };
        await driver.CreateInstanceAsync(marker, Ct);
        for (var waits = 0; !lastEvent.ContainsKey(marker.Id); waits++)
        {
            Assert.True(waits < 3000, "The marker event never arrived.");
            await Task.Delay(10, Ct);
        }

        await watchStop.CancelAsync();
        await watcher;
        foreach (var id in ids)
        {
            var state = instances.SingleOrDefault(i => i.Id == id)?.PowerState ?? PowerState.NoState;
            if (lastEvent.TryGetValue(id, out var last))
            {
                Assert.Equal(state, last.PowerState);
            }
            else
            {
                Assert.Equal(PowerState.NoState, state);
            }
        }
    }
}
