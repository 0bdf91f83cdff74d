namespace Hypervisors.Tests;

public sealed class KeyedAsyncLockTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Holders_of_one_key_run_one_at_a_time_and_other_keys_are_not_blocked()
    {
        var locks = new KeyedAsyncLock<Guid>();
        var id = Guid.NewGuid();
        var first = await locks.AcquireAsync(id, Ct);
        var second = locks.AcquireAsync(id, Ct).AsTask();
        Assert.False(second.IsCompleted);

        using (await locks.AcquireAsync(Guid.NewGuid(), Ct))
        {
            // Another key is free while the first is held.
        }

        first.Dispose();
        (await second.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Dispose();
        Assert.Equal(0, locks.ActiveKeys);
    }

    [Fact]
    public async Task A_cancelled_wait_holds_nothing_and_leaves_no_entry()
    {
        var locks = new KeyedAsyncLock<string>(StringComparer.Ordinal);
        var held = await locks.AcquireAsync("a", Ct);
        using var cts = new CancellationTokenSource();
        var waiting = locks.AcquireAsync("a", cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        held.Dispose();
        held.Dispose(); // releasing twice is harmless
        Assert.Equal(0, locks.ActiveKeys);
        (await locks.AcquireAsync("a", Ct)).Dispose();
    }

    [Fact]
    public async Task Several_keys_are_taken_in_one_order_so_opposite_requests_do_not_deadlock()
    {
        var locks = new KeyedAsyncLock<string>(StringComparer.Ordinal, StringComparer.Ordinal);
        var counter = 0;
        var tasks = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            string[] keys = i % 2 == 0 ? ["id", "name"] : ["name", "id", "name"];
            using (await locks.AcquireAsync(keys, Ct))
            {
                var seen = counter;
                await Task.Yield();
                counter = seen + 1; // lost updates would show if two held the keys at once
            }
        }, Ct));
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(200, counter);
        Assert.Equal(0, locks.ActiveKeys);
    }
}
