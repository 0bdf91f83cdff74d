using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hypervisors.Agent.Fleet;
using Hypervisors.Agent.Hosting;

namespace Hypervisors.Bench;

/// <summary>
/// <c>amqp</c>: the .NET fleet client calling an agent through RabbitMQ, against oslo.messaging's client calling an
/// oslo.messaging server on the same broker in the same run: sequential round trip (p50/p99), calls per second with
/// concurrent callers, and casts per second (the fleet client's are publisher-confirmed). Prints one JSON line with
/// both sides and the ratios.
/// </summary>
internal sealed class AmqpBenchmark : IBenchmarkCommand
{
    public string Name => "amqp";

    public string Usage => "[--broker 127.0.0.1:5672] [--calls 2000] [--concurrency 16] [--seconds 10] [--python /usr/bin/python3]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var endpoint = arguments.Get("broker", "127.0.0.1:5672");
        var calls = arguments.GetInt("calls", 2000);
        var concurrency = arguments.GetInt("concurrency", 16);
        var seconds = arguments.GetInt("seconds", 10);
        var topic = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var dataDirectory = Directory.CreateTempSubdirectory("hv-bench-amqp-").FullName;
        try
        {
            JsonObject dotnet;
            await using (var agent = AgentApplication.Build(
            [
                "--Agent:Listen:0=http://127.0.0.1:0",
                $"--Agent:DataDirectory={dataDirectory}",
                $"--Agent:Amqp:Endpoints:0={endpoint}",
                $"--Agent:Amqp:Topic={topic}",
                "--Agent:Amqp:Host=bench",
                "--Logging:LogLevel:Default=Warning",
            ]))
            {
                await agent.StartAsync(cancellationToken).ConfigureAwait(false);
                var broker = new BrokerOptions { Topic = topic };
                broker.Endpoints.Add(endpoint);
                await using var fleet = await FleetClient.ConnectAsync(broker, new FleetClientOptions { FollowHeartbeats = false }, cancellationToken).ConfigureAwait(false);
                dotnet = await MeasureFleetAsync(fleet, calls, concurrency, seconds, cancellationToken).ConfigureAwait(false);
                await agent.StopAsync(cancellationToken).ConfigureAwait(false);
            }

            var oslo = await RunOsloAsync(arguments.Get("python", "/usr/bin/python3"), endpoint, calls, concurrency, seconds, cancellationToken).ConfigureAwait(false);
            var line = new JsonObject
            {
                ["bench"] = "amqp",
                ["calls"] = calls,
                ["concurrency"] = concurrency,
                ["dotnet_agent"] = dotnet,
                ["oslo_messaging"] = oslo,
                ["calls_per_s_ratio"] = Ratio(dotnet, oslo, "calls_per_s"),
                ["p99_ratio"] = Ratio(dotnet, oslo, "p99_ms"),
                ["casts_per_s_ratio"] = Ratio(dotnet, oslo, "casts_per_s"),
            };
            Console.WriteLine(line.ToJsonString());
            return 0;
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static async Task<JsonObject> MeasureFleetAsync(FleetClient fleet, int calls, int concurrency, int seconds, CancellationToken cancellationToken)
    {
        // Every path the phases below take, until tiered compilation has nothing left to recompile (otherwise the
        // JIT's background thread competes for the 2 cores during the measured round trips: seen as 200-700 methods
        // compiled during the sequential phase and its p99 tripled).
        var warmupRounds = await JitWarmup.UntilSettledAsync(async token =>
        {
            await SequentialAsync(fleet, "bench", 200, token).ConfigureAwait(false);
            await SequentialAsync(fleet, null, 50, token).ConfigureAwait(false);
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await fleet.CallAsync("bench", "ping", [], cancellationToken: token).ConfigureAwait(false);
                    await fleet.CastAsync("bench", "ping", [], token).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        // To the agent's host: a read, on its transient reads queue. Then the same call through the shared quorum
        // queue, the way every command travels (its latency includes the broker's disk commit).
        var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        var gcBefore = GC.CollectionCount(0);
        var pauseBefore = GC.GetTotalPauseDuration();
        var threadsBefore = ThreadPool.ThreadCount;
        var latencies = await SequentialAsync(fleet, "bench", calls, cancellationToken).ConfigureAwait(false);
        var sequentialPhase = new JsonObject
        {
            ["warmup_rounds"] = warmupRounds,
            ["jit_compiled"] = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore,
            ["gen0_gcs"] = GC.CollectionCount(0) - gcBefore,
            ["gc_pause_ms"] = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds,
            ["pool_threads"] = $"{threadsBefore}->{ThreadPool.ThreadCount}",
            ["over_5ms"] = latencies.Count(l => l > 5),
        };
        var durable = await SequentialAsync(fleet, null, calls, cancellationToken).ConfigureAwait(false);
        var done = 0L;
        var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                await fleet.CallAsync("bench", "ping", [], cancellationToken: cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref done);
            }
        })).ConfigureAwait(false);
        var callsPerSecond = done / clock.Elapsed.TotalSeconds;

        // Confirmed casts, with as many in flight as there are callers: each waits for the quorum queue's commit.
        var casts = Stopwatch.StartNew();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < calls)
            {
                await fleet.CastAsync("bench", "ping", [], cancellationToken).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);

        return new JsonObject
        {
            ["p50_ms"] = latencies[calls / 2],
            ["p99_ms"] = latencies[(int)(calls * 0.99) - 1],
            ["sequential_phase"] = sequentialPhase,
            ["quorum_queue_p50_ms"] = durable[calls / 2],
            ["quorum_queue_p99_ms"] = durable[(int)(calls * 0.99) - 1],
            ["calls_per_s"] = callsPerSecond,
            ["casts_per_s"] = calls / casts.Elapsed.TotalSeconds,
        };
    }

    private static async Task<double[]> SequentialAsync(FleetClient fleet, string? host, int calls, CancellationToken cancellationToken)
    {
        var latencies = new double[calls];
        for (var i = 0; i < calls; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await fleet.CallAsync(host, "ping", [], cancellationToken: cancellationToken).ConfigureAwait(false);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(latencies);
        return latencies;
    }

    private static async Task<JsonObject> RunOsloAsync(string python, string endpoint, int calls, int concurrency, int seconds, CancellationToken cancellationToken)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "amqp-oslo", "oslo_rpc_bench.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { script, $"rabbit://guest:guest@{endpoint}/", calls.ToString(System.Globalization.CultureInfo.InvariantCulture), concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("python did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The oslo.messaging bench failed ({process.ExitCode}): {await errors.ConfigureAwait(false)}");
        }

        var lines = (await output.ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return JsonNode.Parse(lines[^1])!.AsObject();
    }

    private static double Ratio(JsonObject dotnet, JsonObject oslo, string key) =>
        Math.Round(dotnet[key]!.GetValue<double>() / oslo[key]!.GetValue<double>(), 2);
}
