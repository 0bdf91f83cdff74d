namespace Hypervisors.Conformance;

/// <summary>Concurrent use: parallel creates and deletes, and racing duplicate creates, leave a consistent host.</summary>
public abstract class ConcurrencyTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Parallel_creates_are_all_listed_exactly_once()
    {
        var specs = Enumerable.Range(0, Fixture.ConcurrentInstanceCount).Select(_ => NewSpec()).ToList();
        try
        {
            await Parallel.ForEachAsync(specs, Options(), async (spec, ct) => await Driver.CreateInstanceAsync(spec, ct));
            var listed = await Driver.ListInstancesAsync(Ct);
            foreach (var spec in specs)
            {
                var count = listed.Count(i => i.Id == spec.Id);
                Assert.True(count == 1, $"Instance {spec.Name} is listed {count} times after parallel creates; expected once.");
            }
        }
        finally
        {
            await DeleteQuietlyAsync(specs);
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Racing_duplicate_creates_of_one_id_yield_one_instance()
    {
        var spec = NewSpec();
        await using var instance = CleanupGuard(spec);
        var results = await Task.WhenAll(Enumerable.Range(0, Fixture.Parallelism).Select(_ => Task.Run(() => Driver.CreateInstanceAsync(spec, Ct), Ct)));
        Assert.All(results, r => Assert.Equal(spec.Id, r.Id));
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_start_among_racing_duplicate_creates_of_one_id_is_not_lost()
    {
        var spec = NewSpec();
        await using var instance = CleanupGuard(spec);
        await Driver.CreateInstanceAsync(spec, Ct);
        var duplicates = Enumerable.Range(0, Fixture.Parallelism).Select(_ => Task.Run(() => Driver.CreateInstanceAsync(spec, Ct), Ct)).ToList();
        await Driver.StartInstanceAsync(spec.Id, Ct);
        var results = await Task.WhenAll(duplicates);
        Assert.All(results, r => Assert.Equal(spec.Id, r.Id));
        await KitAssert.PowerStateIsAsync(Driver, spec.Id, PowerState.Running, "a start among racing duplicate creates", Ct);
        var again = await Driver.CreateInstanceAsync(spec, Ct);
        Assert.True(again.PowerState == PowerState.Running, $"Repeating create of a running instance returned {again.PowerState}; it must return the instance as it is.");
        await KitAssert.PowerStateIsAsync(Driver, spec.Id, PowerState.Running, "repeating the create of a running instance", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Parallel_deletes_leave_none_of_the_instances()
    {
        var specs = Enumerable.Range(0, Fixture.ConcurrentInstanceCount).Select(_ => NewSpec()).ToList();
        try
        {
            foreach (var spec in specs)
            {
                await Driver.CreateInstanceAsync(spec, Ct);
            }

            await Parallel.ForEachAsync(specs, Options(), async (spec, ct) => await Driver.DeleteInstanceAsync(spec.Id, ct));
            var ids = specs.Select(s => s.Id).ToHashSet();
            var left = (await Driver.ListInstancesAsync(Ct)).Where(i => ids.Contains(i.Id)).ToList();
            Assert.True(left.Count == 0, $"{left.Count} instances are still listed after parallel deletes: {string.Join(", ", left.Select(i => i.Name))}.");
        }
        finally
        {
            await DeleteQuietlyAsync(specs);
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Parallel_power_operations_on_different_instances_all_take_effect()
    {
        var specs = Enumerable.Range(0, Fixture.Parallelism).Select(_ => NewSpec()).ToList();
        try
        {
            await Parallel.ForEachAsync(specs, Options(), async (spec, ct) =>
            {
                await Driver.CreateInstanceAsync(spec, ct);
                await Driver.StartInstanceAsync(spec.Id, ct);
            });
            var listed = await Driver.ListInstancesAsync(Ct);
            foreach (var spec in specs)
            {
                Assert.Equal(PowerState.Running, Assert.Single(listed, i => i.Id == spec.Id).PowerState);
            }
        }
        finally
        {
            await DeleteQuietlyAsync(specs);
        }
    }

    private ParallelOptions Options() => new() { MaxDegreeOfParallelism = Fixture.Parallelism, CancellationToken = Ct };

    private async Task DeleteQuietlyAsync(IEnumerable<InstanceSpec> specs)
    {
        foreach (var spec in specs)
        {
            await CleanupGuard(spec).DisposeAsync();
        }
    }
}
