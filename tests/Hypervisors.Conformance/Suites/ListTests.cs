namespace Hypervisors.Conformance;

/// <summary>Listing: one call returns every instance with its state; deleted instances vanish.</summary>
public abstract class ListTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Listing_shows_created_instances_with_their_power_states()
    {
        await using var stopped = await CreateInstanceAsync();
        await using var running = await CreateInstanceInStateAsync(PowerState.Running);
        var listed = await Driver.ListInstancesAsync(Ct);
        var stoppedInfo = Assert.Single(listed, i => i.Id == stopped.Id);
        var runningInfo = Assert.Single(listed, i => i.Id == running.Id);
        Assert.Equal(PowerState.Shutdown, stoppedInfo.PowerState);
        Assert.Equal(PowerState.Running, runningInfo.PowerState);
        Assert.Equal(stopped.Spec.Name, stoppedInfo.Name);
        Assert.Equal(running.Spec.Name, runningInfo.Name);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task One_list_call_returns_every_created_instance_once()
    {
        var instances = new List<KitInstance>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                instances.Add(await CreateInstanceAsync());
            }

            var listed = await Driver.ListInstancesAsync(Ct);
            foreach (var instance in instances)
            {
                Assert.True(listed.Count(i => i.Id == instance.Id) == 1, $"Instance {instance.Spec.Name} is listed {listed.Count(i => i.Id == instance.Id)} times; expected once.");
            }

            Assert.Equal(listed.Count, listed.Select(i => i.Id).Distinct().Count());
        }
        finally
        {
            foreach (var instance in instances)
            {
                await instance.DisposeAsync();
            }
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Deleted_instances_vanish_from_the_list()
    {
        await using var kept = await CreateInstanceAsync();
        await using var deleted = await CreateInstanceAsync();
        await Driver.DeleteInstanceAsync(deleted.Id, Ct);
        var listed = await Driver.ListInstancesAsync(Ct);
        Assert.DoesNotContain(listed, i => i.Id == deleted.Id);
        Assert.Contains(listed, i => i.Id == kept.Id);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Listed_info_matches_get()
    {
        await using var instance = await CreateInstanceAsync();
        var got = await Driver.GetInstanceAsync(instance.Id, Ct);
        var listed = Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
        Assert.Equal(got.Name, listed.Name);
        Assert.Equal(got.PowerState, listed.PowerState);
        Assert.Equal(got.VCpus, listed.VCpus);
        Assert.Equal(got.MemoryMiB, listed.MemoryMiB);
    }
}
