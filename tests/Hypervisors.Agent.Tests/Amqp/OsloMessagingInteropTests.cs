using System.Diagnostics;
using System.Text.Json;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Testing;

namespace Hypervisors.Agent.Tests.Amqp;

/// <summary>
/// Debian's python3-oslo.messaging, unchanged, as the client: its RPC client calls and casts the agent's methods
/// through the broker (to the agent's own topic queue and to the shared one) and gets results and remote errors.
/// </summary>
public sealed class OsloMessagingInteropTests
{
    internal const string Python = "/usr/bin/python3";

    /// <summary>Runs the scenario with oslo.messaging's RPC client and prints one JSON line per step.</summary>
    private const string ClientScript = """
        import json, sys, time, uuid
        from oslo_config import cfg
        import oslo_messaging as messaging

        url, exchange, topic, server, instance_id = sys.argv[1:6]
        cfg.CONF([], project="hypervisors-interop")
        messaging.set_transport_defaults(exchange)
        transport = messaging.get_rpc_transport(cfg.CONF, url=url)
        client = messaging.get_rpc_client(transport, messaging.Target(topic=topic, server=server), timeout=30)
        shared = messaging.get_rpc_client(transport, messaging.Target(topic=topic), timeout=30)

        def out(step, **values):
            print(json.dumps(dict(step=step, **values)), flush=True)

        def failure(call):
            try:
                call()
                return None
            except messaging.RemoteError as error:
                return error.exc_type

        out("ping", result=client.call({}, "ping"))
        out("shared_ping", result=shared.call({}, "ping"))
        spec = {"name": "oslo-made", "vCpus": 2, "memoryMiB": 512, "metadata": {"made-by": "oslo.messaging"}}
        out("create", result=client.call({}, "create_instance", driver="local", instance_id=instance_id, spec=spec))
        client.cast({}, "start_instance", driver="local", instance_id=instance_id)
        state = None
        for _ in range(100):
            state = client.call({}, "get_instance", driver="local", instance_id=instance_id)["powerState"]
            if state == "Running":
                break
            time.sleep(0.1)
        out("after_cast", power_state=state)
        out("missing", exc_type=failure(lambda: client.call({}, "get_instance", driver="local", instance_id=str(uuid.uuid4()))))
        out("unknown_method", exc_type=failure(lambda: client.call({}, "format_disk", driver="local", instance_id=instance_id)))
        out("bad_driver", exc_type=failure(lambda: client.call({}, "get_host", driver="nosuch")))
        out("host", result=client.call({}, "get_host", driver="local"))
        transport.cleanup()
        """;

    [Fact]
    public async Task Oslo_messaging_rpc_client_calls_and_casts_the_agent_unchanged()
    {
        ExternalParts.Require(File.Exists(Python) && HasOsloMessaging(), "python3-oslo.messaging");
        await using var scope = AmqpTestScope.OnSharedBroker();
        await using var agent = await TestAgent.StartAsync(scope.AgentSettings("oslo-host"));
        var instanceId = Guid.NewGuid();

        var steps = await RunClientAsync(ClientScript, ["rabbit://guest:guest@127.0.0.1:5672/", scope.ControlExchange, scope.Topic, "oslo-host", instanceId.ToString()]);

        Assert.Equal("oslo-host", steps["ping"].GetProperty("result").GetProperty("host").GetString());
        Assert.Equal("oslo-host", steps["shared_ping"].GetProperty("result").GetProperty("host").GetString());
        var create = steps["create"].GetProperty("result");
        Assert.Equal("Succeeded", create.GetProperty("state").GetString());
        Assert.Equal(instanceId, create.GetProperty("instanceId").GetGuid());
        Assert.Equal("Running", steps["after_cast"].GetProperty("power_state").GetString());
        Assert.Equal("NotFound", steps["missing"].GetProperty("exc_type").GetString());
        Assert.Equal("InvalidSpec", steps["unknown_method"].GetProperty("exc_type").GetString());
        Assert.Equal("NotFound", steps["bad_driver"].GetProperty("exc_type").GetString());
        Assert.Equal(64, steps["host"].GetProperty("result").GetProperty("vCpusTotal").GetInt32());

        // What the client did is what the hypervisor holds.
        var instance = await agent.Driver().GetInstanceAsync(instanceId, TestContext.Current.CancellationToken);
        Assert.Equal("oslo-made", instance.Name);
        Assert.Equal(PowerState.Running, instance.PowerState);
        Assert.Equal("oslo.messaging", instance.Metadata["made-by"]);
    }

    internal static bool HasOsloMessaging()
    {
        using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import oslo_messaging"]) { RedirectStandardError = true, UseShellExecute = false });
        process!.WaitForExit();
        return process.ExitCode == 0;
    }

    internal static async Task<Dictionary<string, JsonElement>> RunClientAsync(string script, IReadOnlyList<string> arguments, TimeSpan? timeout = null)
    {
        var file = Path.Combine(Path.GetTempPath(), $"hv-oslo-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(file, script);
        try
        {
            var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(file);
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("The oslo.messaging client did not finish:\n" + await output + "\n" + await errors);
            }

            Assert.True(process.ExitCode == 0, $"oslo.messaging client exited {process.ExitCode}:\n{await output}\n{await errors}");
            return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => JsonDocument.Parse(line).RootElement)
                .ToDictionary(step => step.GetProperty("step").GetString()!, step => step);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
