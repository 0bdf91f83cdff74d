using System.Text.Json.Nodes;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>The .NET fleet client against agents on the shared broker: calls, casts, typed errors, idempotent repeats, up/down.</summary>
public sealed class FleetClientTests
{
    [Fact]
    public async Task A_command_or_cast_the_broker_refuses_fails_at_once_typed_instead_of_timing_out()
    {
        // A queue that refuses every message (full, overflow reject-publish) stands for one the broker cannot take
        // a message into: the negative confirm must reach the caller, not a silent drop and a timeout.
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        var hostQueue = scope.Topology.HostQueue("full");
        var (connection, channel) = await scope.OpenChannelAsync(ct);
        await using (connection)
        await using (channel)
        {
            await channel.ExchangeDeclareAsync(scope.ControlExchange, RabbitMQ.Client.ExchangeType.Topic, false, false, cancellationToken: ct);
            await channel.QueueDeclareAsync(hostQueue, false, false, false, new Dictionary<string, object?> { ["x-max-length"] = 0, ["x-overflow"] = "reject-publish" }, cancellationToken: ct);
            await channel.QueueBindAsync(hostQueue, scope.ControlExchange, hostQueue, cancellationToken: ct);
            try
            {
                await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
                var started = System.Diagnostics.Stopwatch.StartNew();
                var refused = await Assert.ThrowsAsync<FleetCallRefusedException>(() =>
                    fleet.CallAsync("full", "start_instance", new JsonObject { ["driver"] = "local", ["instance_id"] = Guid.NewGuid().ToString() }, "refused-call-1", TimeSpan.FromSeconds(30), ct));
                Assert.Equal("refused-call-1", refused.MessageId);
                Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"the refusal took {started.Elapsed}");
                await Assert.ThrowsAsync<FleetCallRefusedException>(() => fleet.CastAsync("full", "start_instance", new JsonObject { ["driver"] = "local", ["instance_id"] = Guid.NewGuid().ToString() }, ct));
                Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync(hostQueue, ct)).MessageCount);
            }
            finally
            {
                await channel.QueueDeleteAsync(hostQueue, false, false, cancellationToken: ct);
            }
        }
    }

    [Fact]
    public async Task Reads_take_the_agents_transient_reads_queue_and_fall_back_to_its_host_queue_when_that_is_unroutable()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("reader"));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false, CallTimeout = TimeSpan.FromSeconds(30) }, ct);
        var readsQueue = scope.Topology.ReadsQueue("reader");
        var hostQueue = scope.Topology.HostQueue("reader");
        var (connection, channel) = await scope.OpenChannelAsync(ct);
        await using (connection)
        await using (channel)
        {
            Assert.Equal(1u, (await channel.QueueDeclarePassiveAsync(readsQueue, ct)).ConsumerCount);

            // A spy bound with each route's key gets a copy of what is sent that way.
            async Task<string> SpyAsync(string routingKey)
            {
                var spy = await channel.QueueDeclareAsync(string.Empty, false, true, true, cancellationToken: ct);
                await channel.QueueBindAsync(spy.QueueName, scope.ControlExchange, routingKey, cancellationToken: ct);
                return spy.QueueName;
            }

            async Task<uint> CopiesAsync(string spy) => (await channel.QueueDeclarePassiveAsync(spy, ct)).MessageCount;

            var readsSpy = await SpyAsync(readsQueue);
            var hostSpy = await SpyAsync(hostQueue);
            var pong = await fleet.CallAsync("reader", "ping", [], cancellationToken: ct);
            Assert.Equal("reader", pong!["host"]!.GetValue<string>());
            await AmqpWait.UntilAsync(async () => await CopiesAsync(readsSpy) == 1, TimeSpan.FromSeconds(10));
            Assert.Equal(0u, await CopiesAsync(hostSpy));

            // Nothing routes to the reads queue any more (as while the agent reconnects, or an agent without one):
            // the broker returns the read, and the client sends it the durable way.
            await channel.QueueUnbindAsync(readsQueue, scope.ControlExchange, readsQueue, cancellationToken: ct);
            await channel.QueueUnbindAsync(readsSpy, scope.ControlExchange, readsQueue, cancellationToken: ct);
            var drivers = await fleet.CallAsync("reader", "list_drivers", [], cancellationToken: ct);
            Assert.Equal("local", drivers!.AsArray().Single()!.GetValue<string>());
            await AmqpWait.UntilAsync(async () => await CopiesAsync(hostSpy) == 1, TimeSpan.FromSeconds(10));
            Assert.Equal(1u, await CopiesAsync(readsSpy));
        }
    }

    [Fact]
    public async Task Fleet_client_calls_and_casts_agents_and_lists_them_up_then_down_by_heartbeat()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agentA = await TestAgent.StartAsync(scope.AgentSettings("fleet-a"));
        var agentB = await TestAgent.StartAsync(scope.AgentSettings("fleet-b"));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { DownAfter = TimeSpan.FromSeconds(2), CallTimeout = TimeSpan.FromSeconds(30) }, ct);

        var both = await AmqpWait.UntilAsync(() => fleet.Services is { Count: 2 } services && services.All(s => s.IsUp) ? fleet.Services : null, TimeSpan.FromSeconds(20));
        Assert.Equal(["fleet-a", "fleet-b"], both.Select(s => s.Host));
        Assert.All(both, s => Assert.Equal(64, s.Heartbeat.Drivers.Single().VCpusTotal));

        var id = Guid.NewGuid();
        var created = await fleet.CallAsync<OperationResource>("fleet-a", "create_instance", new JsonObject
        {
            ["driver"] = "local",
            ["instance_id"] = id.ToString(),
            ["spec"] = new JsonObject { ["name"] = "fleet-made", ["vCpus"] = 2, ["memoryMiB"] = 1024 },
        }, cancellationToken: ct);
        Assert.Equal(OperationState.Succeeded, created!.State);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => agentB.Driver().GetInstanceAsync(id, ct));

        // A cast is confirmed by the broker, then done by the agent.
        var castId = await fleet.CastAsync("fleet-a", "start_instance", new JsonObject { ["driver"] = "local", ["instance_id"] = id.ToString() }, ct);
        await AmqpWait.UntilAsync(async () => (await agentA.Driver().GetInstanceAsync(id, ct)).PowerState == PowerState.Running, TimeSpan.FromSeconds(20));
        var castResult = await fleet.GetCallResultAsync("fleet-a", castId, cancellationToken: ct);
        Assert.Equal("start", castResult!["kind"]!.GetValue<string>());

        // The same message id twice is one operation: the second answer is the first one's.
        var messageId = Guid.NewGuid().ToString("N");
        var stop = new JsonObject { ["driver"] = "local", ["instance_id"] = id.ToString(), ["timeout_seconds"] = 0 };
        var first = await fleet.CallAsync("fleet-a", "stop_instance", stop, messageId, cancellationToken: ct);
        var again = await fleet.CallAsync("fleet-a", "stop_instance", (JsonObject)stop.DeepClone(), messageId, cancellationToken: ct);
        Assert.Equal(first!["id"]!.GetValue<string>(), again!["id"]!.GetValue<string>());
        var fetched = await fleet.GetCallResultAsync("fleet-a", messageId, cancellationToken: ct);
        Assert.Equal(first["id"]!.GetValue<string>(), fetched!["id"]!.GetValue<string>());

        // Typed failures: the agent's problem, and a host no agent serves.
        var missing = await Assert.ThrowsAsync<AgentApiException>(() => fleet.CallAsync("fleet-a", "get_instance", new JsonObject { ["driver"] = "local", ["instance_id"] = Guid.NewGuid().ToString() }, cancellationToken: ct));
        Assert.Equal(HypervisorErrorKind.NotFound, missing.Problem.Kind);
        var invalid = await Assert.ThrowsAsync<AgentApiException>(() => fleet.CallAsync("fleet-a", "create_instance", new JsonObject { ["driver"] = "local", ["instance_id"] = "not-a-uuid" }, cancellationToken: ct));
        Assert.Equal(HypervisorErrorKind.InvalidSpec, invalid.Problem.Kind);
        await Assert.ThrowsAsync<FleetUnroutableException>(() => fleet.CallAsync("no-such-host", "ping", [], cancellationToken: ct));

        // The shared queue reaches some agent.
        var anyone = await fleet.CallAsync(null, "ping", [], cancellationToken: ct);
        Assert.Contains(anyone!["host"]!.GetValue<string>(), new[] { "fleet-a", "fleet-b" });

        await agentB.DisposeAsync();
        var afterStop = await AmqpWait.UntilAsync(() => fleet.Services.SingleOrDefault(s => s.Host == "fleet-b") is { IsUp: false } ? fleet.Services : null, TimeSpan.FromSeconds(10));
        Assert.True(afterStop.Single(s => s.Host == "fleet-a").IsUp);
    }
}

internal static class AmqpWait
{
    public static async Task<T> UntilAsync<T>(Func<T?> probe, TimeSpan timeout)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The condition did not hold within {timeout}.");
            }

            await Task.Delay(50);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> probe, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await probe())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The condition did not hold within {timeout}.");
            }

            await Task.Delay(50);
        }
    }
}
