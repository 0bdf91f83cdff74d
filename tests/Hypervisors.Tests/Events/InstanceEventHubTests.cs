namespace Hypervisors.Tests;

public sealed class InstanceEventHubTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InstanceEvent Event(int n) =>
        new(Guid.NewGuid(), InstanceEventKind.Started, PowerState.Running, DateTimeOffset.UnixEpoch.AddSeconds(n));

    [Fact]
    public async Task Every_subscriber_gets_every_event_in_publish_order()
    {
        using var hub = new InstanceEventHub();
        await using var first = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        await using var second = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        var events = Enumerable.Range(0, 100).Select(Event).ToList();
        events.ForEach(hub.Publish);
        foreach (var subscriber in new[] { first, second })
        {
            foreach (var expected in events)
            {
                Assert.True(await subscriber.MoveNextAsync());
                Assert.Same(expected, subscriber.Current);
            }
        }
    }

    [Fact]
    public async Task Events_published_before_subscribing_are_not_delivered_but_those_after_the_call_are()
    {
        using var hub = new InstanceEventHub();
        hub.Publish(Event(1));
        var stream = hub.SubscribeAsync(Ct);
        var after = Event(2);
        hub.Publish(after);
        await using var reader = stream.GetAsyncEnumerator(Ct);
        Assert.True(await reader.MoveNextAsync());
        Assert.Same(after, reader.Current);
    }

    [Fact]
    public async Task Cancelling_a_subscription_ends_it_and_unsubscribes()
    {
        using var hub = new InstanceEventHub();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var reader = hub.SubscribeAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        await using var other = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        Assert.Equal(2, hub.SubscriberCount);
        var pending = reader.MoveNextAsync();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        await reader.DisposeAsync();
        Assert.Equal(1, hub.SubscriberCount);
        hub.Publish(Event(3));
        Assert.True(await other.MoveNextAsync());
    }

    [Fact]
    public async Task Cancelling_a_subscription_that_was_never_enumerated_unsubscribes_it()
    {
        using var hub = new InstanceEventHub();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        _ = hub.SubscribeAsync(cts.Token);
        Assert.Equal(1, hub.SubscriberCount);
        await cts.CancelAsync();
        Assert.Equal(0, hub.SubscriberCount);
        _ = hub.SubscribeAsync(new CancellationToken(canceled: true));
        Assert.Equal(0, hub.SubscriberCount);
    }

    [Fact]
    public async Task Disposing_the_hub_ends_every_subscription_and_later_ones_at_once()
    {
        var hub = new InstanceEventHub();
        await using var reader = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        var pending = reader.MoveNextAsync();
        hub.Dispose();
        Assert.False(await pending);
        Assert.Equal(0, hub.SubscriberCount);
        await using var late = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        Assert.False(await late.MoveNextAsync());
        hub.Publish(Event(4));
    }

    [Fact]
    public async Task Concurrent_publishers_lose_nothing()
    {
        using var hub = new InstanceEventHub();
        await using var reader = hub.SubscribeAsync(Ct).GetAsyncEnumerator(Ct);
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), Ct, (n, _) =>
        {
            hub.Publish(Event(n));
            return ValueTask.CompletedTask;
        });
        var seen = new HashSet<DateTimeOffset>();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(await reader.MoveNextAsync());
            seen.Add(reader.Current.Timestamp);
        }

        Assert.Equal(1000, seen.Count);
    }
}
