namespace Hypervisors.Tests;

public sealed class KeyedSingleFlightTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Concurrent_callers_of_one_key_share_one_run_and_other_keys_run_apart()
    {
        var flights = new KeyedSingleFlight<string, int>();
        var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = 0;
        Task<int> Run(string _)
        {
            Interlocked.Increment(ref runs);
            return release.Task;
        }

        var callers = Enumerable.Range(0, 8).Select(_ => flights.RunAsync("image", Run, Ct)).ToList();
        var other = await flights.RunAsync("other", _ => Task.FromResult(7), Ct);
        Assert.True(flights.Contains("image"));
        release.SetResult(42);
        var results = await Task.WhenAll(callers);

        Assert.Equal(1, runs);
        Assert.Equal(7, other.Value);
        Assert.All(results, r => Assert.Equal(42, r.Value));
        Assert.Single(results, r => r.Started);
        Assert.True(other.Started);

        // Without keep, nothing stays once the run is over: the next caller runs again.
        Assert.False(flights.Contains("image"));
        var again = await flights.RunAsync("image", _ => Task.FromResult(43), Ct);
        Assert.Equal((43, true), again);
    }

    [Fact]
    public async Task A_caller_giving_up_does_not_stop_the_run_for_the_others()
    {
        var flights = new KeyedSingleFlight<string, string>();
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var impatient = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var first = flights.RunAsync("k", _ => release.Task, impatient.Token);
        var second = flights.RunAsync("k", _ => throw new InvalidOperationException("a second run started"), Ct);

        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        release.SetResult("done");
        Assert.Equal(("done", false), await second);
    }

    [Fact]
    public async Task A_failed_run_is_not_kept_and_a_kept_result_is_forgotten_only_when_stale()
    {
        var flights = new KeyedSingleFlight<string, string?>(keep: found => found is not null);
        await Assert.ThrowsAsync<HypervisorUnavailableException>(() => flights.RunAsync("net", _ => throw new HypervisorUnavailableException("down"), Ct));
        Assert.False(flights.Contains("net"));

        // A miss (null) is not kept either: a network created later is found.
        Assert.Null((await flights.RunAsync("net", _ => Task.FromResult<string?>(null), Ct)).Value);
        Assert.False(flights.Contains("net"));

        Assert.Equal("OpaqueRef:1", (await flights.RunAsync("net", _ => Task.FromResult<string?>("OpaqueRef:1"), Ct)).Value);
        Assert.Equal(("OpaqueRef:1", false), await flights.RunAsync("net", _ => Task.FromResult<string?>("OpaqueRef:2"), Ct));

        Assert.False(flights.Forget("net", kept => kept == "OpaqueRef:0"));
        Assert.True(flights.Contains("net"));
        Assert.True(flights.Forget("net", kept => kept == "OpaqueRef:1"));
        Assert.Equal(("OpaqueRef:2", true), await flights.RunAsync("net", _ => Task.FromResult<string?>("OpaqueRef:2"), Ct));
    }
}
