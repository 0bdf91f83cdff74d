using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Hypervisors.Agent.Amqp;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>The AMQP side under faults: bad credentials, poison messages, a deaf consumer, a killed agent, a broker restart.</summary>
public sealed class AmqpFaultTests
{
    [Fact]
    public async Task A_wrong_password_stops_the_agent_at_start_with_a_clear_message()
    {
        await using var scope = AmqpTestScope.OnSharedBroker();
        var passwordFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(passwordFile, "not-the-password\n", TestContext.Current.CancellationToken);
        try
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => TestAgent.StartAsync(scope.AgentSettings("badpass", passwordFile)));
            var messages = string.Join(" | ", Chain(failure).Select(e => e.Message));
            Assert.Contains("RabbitMQ refused the agent's credentials: user 'guest'", messages, StringComparison.Ordinal);
            Assert.Contains("Agent:Amqp:PasswordFile", messages, StringComparison.Ordinal);
            Assert.DoesNotContain("not-the-password", messages, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    [Fact]
    public async Task A_broker_that_accepts_the_socket_and_never_answers_is_given_up_on_within_the_setup_timeout()
    {
        // A broker still starting (or wedged) may accept the TCP connection and never answer; the agent must not wait
        // on it forever: each attempt ends at Agent:Amqp:SessionSetupTimeout and the agent tries again, not ready.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<System.Net.Sockets.TcpClient>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                accepted.Add(await silent.AcceptTcpClientAsync(stop.Token));
            }
        }, CancellationToken.None);
        await using var scope = new AmqpTestScope(((System.Net.IPEndPoint)silent.LocalEndpoint).Port);
        var settings = scope.AgentSettings("silent");
        settings["Agent:Amqp:SessionSetupTimeout"] = "00:00:01";
        settings["Agent:Amqp:ReconnectDelay"] = "00:00:00.100";
        settings["Agent:Amqp:MaxReconnectDelay"] = "00:00:00.200";
        try
        {
            var started = Stopwatch.StartNew();
            await using var agent = await TestAgent.StartAsync(settings);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(8), $"the agent waited {started.Elapsed} for a broker that never answered");
            Assert.False(agent.Service<AmqpHealth>().IsReady);
            Assert.Contains("SessionSetupTimeout", agent.Service<AmqpHealth>().Description, StringComparison.Ordinal);

            // It keeps trying, one bounded attempt after another.
            await AmqpWait.UntilAsync(() => Task.FromResult(agent.Logs.Entries.Count(e => e.EventId.Id == 6001 && e.Message.Contains("SessionSetupTimeout", StringComparison.Ordinal)) >= 2), TimeSpan.FromSeconds(15));
            Assert.True(accepted.Count >= 2, $"{accepted.Count} connection attempts reached the silent endpoint");
        }
        finally
        {
            silent.Stop();
            await stop.CancelAsync();
            await Task.WhenAny(accepting, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
            accepted.ForEach(client => client.Dispose());
        }
    }

    [Fact]
    public async Task A_poison_message_is_dead_lettered_after_the_delivery_limit_and_the_agent_keeps_serving()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("poisoned", deliveryLimit: 2));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
        await fleet.CallAsync("poisoned", "ping", [], cancellationToken: ct);
        var (connection, channel) = await scope.OpenChannelAsync(ct);
        await using (connection)
        await using (channel)
        {
            var poison = Encoding.UTF8.GetBytes("{\"oslo.version\": \"2.0\", \"oslo.message\": \"{not json");
            await channel.BasicPublishAsync(scope.ControlExchange, scope.Topology.HostQueue("poisoned"), false, new BasicProperties { MessageId = "poison-1", DeliveryMode = DeliveryModes.Persistent }, poison, ct);

            BasicGetResult? dead = null;
            await AmqpWait.UntilAsync(async () => (dead = await channel.BasicGetAsync(scope.Topology.DeadLetterQueue, true, ct)) is not null, TimeSpan.FromSeconds(30));
            Assert.Equal(poison, dead!.Body.ToArray());
            Assert.Equal("poison-1", dead.BasicProperties.MessageId);
            Assert.Equal("delivery_limit", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers!["x-first-death-reason"]!));
        }

        var undecodable = agent.Logs.Entries.Count(entry => entry.EventId.Id == 6003);
        Assert.True(undecodable >= 2, $"the agent saw the poison message {undecodable} times");
        var pong = await fleet.CallAsync("poisoned", "ping", [], cancellationToken: ct);
        Assert.Equal("poisoned", pong!["host"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_consumer_cancelled_by_the_broker_is_noticed_and_the_agent_rejoins_and_answers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("cancelled"));
        var health = agent.Service<AmqpHealth>();
        await AmqpWait.UntilAsync(() => Task.FromResult(health.IsReady), TimeSpan.FromSeconds(20));
        await DeleteHostQueueAndAwaitRejoinAsync(scope, agent, "cancelled", 6008, ct);
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
        var pong = await fleet.CallAsync("cancelled", "ping", [], cancellationToken: ct);
        Assert.Equal("cancelled", pong!["host"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_call_whose_operation_outlives_the_agents_connection_is_answered_through_the_next_one()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        var held = new HeldStartDriver(new Hypervisors.Fake.FakeHypervisorDriver(new Hypervisors.Fake.FakeHypervisorOptions()));
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("recycled"), services: services => services.AddHypervisors(h => h.AddDriver("held", _ => held)));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false, CallTimeout = TimeSpan.FromSeconds(60) }, ct);
        var id = Guid.NewGuid();
        var instance = new JsonObject { ["driver"] = "held", ["instance_id"] = id.ToString() };
        await fleet.CallAsync("recycled", "create_instance", new JsonObject
        {
            ["driver"] = "held",
            ["instance_id"] = id.ToString(),
            ["spec"] = new JsonObject { ["name"] = "held-1", ["vCpus"] = 1, ["memoryMiB"] = 64 },
        }, cancellationToken: ct);

        // The start is accepted and acknowledged on this connection, and runs on...
        var start = fleet.CallAsync("recycled", "start_instance", instance, cancellationToken: ct);
        await held.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);

        // ...while the agent's connection is recycled (the broker cancelled its consumer).
        await DeleteHostQueueAndAwaitRejoinAsync(scope, agent, "recycled", 6002, ct);
        held.Release.TrySetResult();

        // The caller's reply address outlived the agent's old connection: the answer comes through the new one.
        var operation = await start;
        Assert.Equal("Succeeded", operation!["state"]!.GetValue<string>());
        Assert.Equal(PowerState.Running, (await held.GetInstanceAsync(id, ct)).PowerState);
        Assert.DoesNotContain(agent.Logs.Entries, entry => entry.EventId.Id == 6006);
    }

    /// <summary>Deletes <paramref name="host"/>'s queue as an operator would, then waits for log event <paramref name="eventId"/> and for the agent to be ready again.</summary>
    private static async Task DeleteHostQueueAndAwaitRejoinAsync(AmqpTestScope scope, TestAgent agent, string host, int eventId, CancellationToken ct)
    {
        var (connection, channel) = await scope.OpenChannelAsync(ct);
        await using (connection)
        await using (channel)
        {
            await channel.QueueDeleteAsync(scope.Topology.HostQueue(host), false, false, cancellationToken: ct);
        }

        await AmqpWait.UntilAsync(() => Task.FromResult(agent.Logs.Entries.Any(entry => entry.EventId.Id == eventId)), TimeSpan.FromSeconds(20));
        await AmqpWait.UntilAsync(() => Task.FromResult(agent.Service<AmqpHealth>().IsReady), TimeSpan.FromSeconds(30));
    }

    /// <summary>A fake whose instance start waits until the test releases it.</summary>
    private sealed class HeldStartDriver(IHypervisorDriver inner) : DelegatingHypervisorDriver(inner)
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task StartInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
            await base.StartInstanceAsync(instanceId, cancellationToken);
        }
    }

    [Fact]
    public async Task A_self_probe_waiting_behind_a_backlog_is_not_taken_for_deafness()
    {
        const int Count = 500;
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();

        // The queue exists (an agent declared it and went away), then a backlog of commands waits in it: each takes
        // the driver 100 ms, so the agent's 64 at a time need about 0.8 s to work through them.
        await (await TestAgent.StartAsync(scope.AgentSettings("backlogged"))).DisposeAsync();
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < Count)
            {
                await fleet.CastAsync("backlogged", "list_instances", new JsonObject { ["driver"] = "slow" }, ct);
            }
        }));

        // A probe patience shorter than the backlog takes: the first probes sit behind commands that keep arriving.
        var slow = new SlowListDriver(new Hypervisors.Fake.FakeHypervisorDriver(new Hypervisors.Fake.FakeHypervisorOptions()), TimeSpan.FromMilliseconds(100));
        var settings = scope.AgentSettings("backlogged", probeInterval: TimeSpan.FromMilliseconds(50));
        settings["Agent:Amqp:ProbeTimeout"] = "00:00:00.300";
        await using var agent = await TestAgent.StartAsync(settings, services: services => services.AddHypervisors(h => h.AddDriver("slow", _ => slow)));
        await AmqpWait.UntilAsync(() => Task.FromResult(Volatile.Read(ref slow.Listed) >= Count), TimeSpan.FromSeconds(60));
        await AmqpWait.UntilAsync(() => Task.FromResult(agent.Service<AmqpHealth>().IsReady), TimeSpan.FromSeconds(30));

        Assert.DoesNotContain(agent.Logs.Entries, entry => entry.EventId.Id is 6007 or 6002);
        Assert.Contains(agent.Logs.Entries, entry => entry.EventId.Id == 6011);
    }

    /// <summary>A fake whose instance listing takes a while.</summary>
    private sealed class SlowListDriver(IHypervisorDriver inner, TimeSpan delay) : DelegatingHypervisorDriver(inner)
    {
        public int Listed;

        public override async Task<IReadOnlyList<InstanceInfo>> ListInstancesAsync(CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            var instances = await base.ListInstancesAsync(cancellationToken);
            Interlocked.Increment(ref Listed);
            return instances;
        }
    }

    [Fact]
    public async Task The_self_probe_catches_a_connected_but_deaf_agent_and_the_agent_rejoins()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("deaf"));
        var health = agent.Service<AmqpHealth>();
        await AmqpWait.UntilAsync(() => Task.FromResult(health.IsReady), TimeSpan.FromSeconds(20));
        var (connection, channel) = await scope.OpenChannelAsync(ct);
        await using (connection)
        await using (channel)
        {
            // No signal reaches the agent: its consumer stays registered, but nothing routes to its queue any more.
            await channel.QueueUnbindAsync(scope.Topology.HostQueue("deaf"), scope.ControlExchange, scope.Topology.HostQueue("deaf"), cancellationToken: ct);
        }

        var sawRed = false;
        await AmqpWait.UntilAsync(() =>
        {
            sawRed |= !health.IsReady;
            return Task.FromResult(agent.Logs.Entries.Any(entry => entry.EventId.Id == 6007));
        }, TimeSpan.FromSeconds(20));
        Assert.True(sawRed || agent.Logs.Entries.Any(entry => entry.EventId.Id == 6002), "readiness never turned red");
        Assert.Contains(agent.Logs.Entries, entry => entry.EventId.Id == 6002 && entry.Message.Contains("self-probe", StringComparison.Ordinal));
        await AmqpWait.UntilAsync(() => Task.FromResult(health.IsReady), TimeSpan.FromSeconds(30));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
        var pong = await fleet.CallAsync("deaf", "ping", [], cancellationToken: ct);
        Assert.Equal("deaf", pong!["host"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_agent_killed_mid_command_gets_the_commands_again_and_does_each_once()
    {
        const int Count = 200;
        var ct = TestContext.Current.CancellationToken;
        await using var scope = AmqpTestScope.OnSharedBroker();
        var dataDirectory = Directory.CreateTempSubdirectory("hv-amqp-kill-").FullName;
        var settings = scope.AgentSettings("killed");
        try
        {
            // The queue exists before the commands are cast: an agent declares it, then goes away.
            await (await AgentProcess.StartAsync(dataDirectory, settings, ct)).DisposeAsync();
            await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
            var ids = Enumerable.Range(0, Count).Select(_ => Guid.NewGuid()).ToList();
            var castIds = new List<string>();
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
            {
                castIds.Add(await fleet.CastAsync("killed", "create_instance", new JsonObject
                {
                    ["driver"] = "local",
                    ["instance_id"] = id.ToString(),
                    ["spec"] = new JsonObject { ["name"] = $"kill-{i:D3}", ["vCpus"] = 1, ["memoryMiB"] = 64 },
                }, ct));
            }

            // Kill the agent while it works through them.
            var (connection, channel) = await scope.OpenChannelAsync(ct);
            await using (connection)
            await using (channel)
            {
                var events = await channel.QueueDeclareAsync(string.Empty, false, true, true, cancellationToken: ct);
                await channel.QueueBindAsync(events.QueueName, scope.Topology.EventsExchange, "operation.killed.*", cancellationToken: ct);
                var first = await AgentProcess.StartAsync(dataDirectory, settings, ct);
                await AmqpWait.UntilAsync(async () => (await channel.QueueDeclarePassiveAsync(events.QueueName, ct)).MessageCount >= Count / 5, TimeSpan.FromSeconds(60));
                await first.KillAsync();
                await first.DisposeAsync();
            }

            await using (var second = await AgentProcess.StartAsync(dataDirectory, settings, ct))
            {
                // Each cast, looked up by its message id in the restarted agent's journal, was done. (The fake's
                // instances die with its process, so the journal, not the hypervisor, is the record here.)
                foreach (var castId in castIds)
                {
                    JsonNode? operation = null;
                    await AmqpWait.UntilAsync(async () =>
                    {
                        try
                        {
                            // A redelivered cast may still be on its way through the restarted agent's prefetch.
                            operation = await fleet.GetCallResultAsync("killed", castId, TimeSpan.FromSeconds(30), ct);
                            return true;
                        }
                        catch (AgentApiException exception) when (exception.Problem.Kind == HypervisorErrorKind.NotFound)
                        {
                            return false;
                        }
                    }, TimeSpan.FromSeconds(30));
                    Assert.Equal("Succeeded", operation!["state"]!.GetValue<string>());
                }
            }

            await using var journal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), Configuration.JournalDurability.Normal);
            var states = journal.CountByState();
            Assert.Equal(Count, states.GetValueOrDefault(OperationState.Succeeded));
            Assert.False(states.ContainsKey(OperationState.Pending));
            Assert.False(states.ContainsKey(OperationState.Failed));
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task A_broker_restart_with_500_calls_in_flight_loses_none_and_does_none_twice()
    {
        const int Count = 500;
        var ct = TestContext.Current.CancellationToken;
        await using var node = await PrivateRabbitNode.StartAsync(ct);
        await using var scope = new AmqpTestScope(node.Port);
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("restarted"));
        await using var fleet = await FleetClient.ConnectAsync(scope.Broker(), new FleetClientOptions { FollowHeartbeats = false }, ct);
        await fleet.CallAsync("restarted", "ping", [], cancellationToken: ct);

        var ids = Enumerable.Range(0, Count).Select(_ => Guid.NewGuid()).ToList();
        var messageIds = ids.Select(_ => Guid.NewGuid().ToString("N")).ToList();
        JsonObject Create(int i) => new()
        {
            ["driver"] = "local",
            ["instance_id"] = ids[i].ToString(),
            ["spec"] = new JsonObject { ["name"] = $"restart-{i:D3}", ["vCpus"] = 1, ["memoryMiB"] = 64 },
        };

        var answered = 0;
        var enoughAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, Count).Select(async i =>
        {
            try
            {
                var result = await fleet.CallAsync("restarted", "create_instance", Create(i), messageIds[i], TimeSpan.FromSeconds(30), ct);
                if (Interlocked.Increment(ref answered) == Count / 10)
                {
                    enoughAnswered.TrySetResult();
                }

                return (Answered: true, Failure: (Exception?)null, Result: result);
            }
            catch (Exception exception) when (exception is FleetCallException or RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.AlreadyClosedException)
            {
                return (Answered: false, Failure: exception, Result: (JsonNode?)null);
            }
        }).ToList();

        await enoughAnswered.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
        using var report = new AgentLogReport(agent);
        await node.StopAsync();
        await node.StartAgainAsync(ct);
        var outcomes = await Task.WhenAll(calls);

        // Every call was answered, or failed with a typed exception; never anything else.
        Assert.All(outcomes.Where(o => o.Answered), o => Assert.Equal("Succeeded", o.Result!["state"]!.GetValue<string>()));
        var unanswered = outcomes.Select((o, i) => (o, i)).Where(x => !x.o.Answered).Select(x => x.i).ToList();
        Assert.True(outcomes.Count(o => o.Answered) < Count, "the restart came after every call was answered");

        // The unanswered ones are repeated with their message ids: each is done, and none twice.
        var restarted = Stopwatch.StartNew();
        // Ready on a connection made after the restart (the readiness of the old one may not have been withdrawn yet).
        await AmqpWait.UntilAsync(() => Task.FromResult(report.ConnectedSince && agent.Service<AmqpHealth>().IsReady), TimeSpan.FromSeconds(60));
        var readyAfter = restarted.Elapsed;
        var slowest = TimeSpan.Zero;
        foreach (var i in unanswered)
        {
            var started = Stopwatch.GetTimestamp();
            var repeat = await fleet.CallAsync("restarted", "create_instance", Create(i), messageIds[i], TimeSpan.FromSeconds(60), ct);
            Assert.Equal("Succeeded", repeat!["state"]!.GetValue<string>());
            slowest = TimeSpan.FromTicks(Math.Max(slowest.Ticks, Stopwatch.GetElapsedTime(started).Ticks));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"ready {readyAfter.TotalSeconds:F1} s after the restart; repeats took {(restarted.Elapsed - readyAfter).TotalSeconds:F1} s, the slowest {slowest.TotalSeconds:F1} s");

        var instances = await agent.Driver().ListInstancesAsync(ct);
        Assert.Equal(ids.ToHashSet(), instances.Select(instance => instance.Id).ToHashSet());
        var states = agent.Service<OperationJournal>().CountByState();
        Assert.Equal(Count, states.GetValueOrDefault(OperationState.Succeeded));
        Assert.False(states.ContainsKey(OperationState.Failed));
        TestContext.Current.TestOutputHelper?.WriteLine($"broker restart: {Count - unanswered.Count} calls answered, {unanswered.Count} failed typed ({string.Join(", ", outcomes.Where(o => !o.Answered).GroupBy(o => o.Failure!.GetType().Name).Select(g => $"{g.Key} {g.Count()}"))}) and were repeated");
    }

    /// <summary>On dispose, writes what the agent's AMQP side logged (connections, probes, lost replies) to the test output.</summary>
    private sealed class AgentLogReport(TestAgent agent) : IDisposable
    {
        private readonly int _skip = agent.Logs.Entries.Count;
        private readonly DateTime _started = DateTime.UtcNow;

        /// <summary>Whether the agent has connected to the broker since the report began.</summary>
        public bool ConnectedSince => agent.Logs.Entries.Skip(_skip).Any(e => e.EventId.Id == 6000);

        public void Dispose()
        {
            // One line per run of the same event (a dead connection fails every publish the same way), with the
            // seconds since the report began.
            var lines = agent.Logs.Entries.Skip(_skip)
                .Where(e => e.Category.Contains(".Amqp.", StringComparison.Ordinal) && e.Level >= LogLevel.Debug && e.EventId.Id != 6010)
                .Select(e => (Text: $"{e.Level} {e.EventId.Id}: {e.Message.Split('\n')[0]}", Seconds: (e.At - _started).TotalSeconds));
            (string Text, double Seconds)? previous = null;
            var repeats = 0;
            foreach (var line in lines.Select(l => ((string Text, double Seconds)?)l).Append(null))
            {
                if (line is { } current && previous is { } last && current.Text == last.Text)
                {
                    repeats++;
                    continue;
                }

                if (previous is { } done)
                {
                    TestContext.Current.TestOutputHelper?.WriteLine($"{done.Seconds,6:F1} s {done.Text}{(repeats > 1 ? $" (x{repeats})" : string.Empty)}");
                }

                (previous, repeats) = (line, 1);
            }
        }
    }

    internal static IEnumerable<Exception> Chain(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                {
                    yield return inner;
                }
            }
        }
    }
}
