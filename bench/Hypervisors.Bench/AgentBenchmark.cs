using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hypervisors.Agent.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Bench;

/// <summary>
/// The compute agent under load. The agent runs as a child process (<c>dotnet Hypervisors.Agent.dll</c>, the
/// in-memory fake holding 1,000 instances, the SQLite journal on); a bare Kestrel server runs as a second child
/// process of this program with the same GC settings, serving the same list bytes (the list reference) and
/// journaling each create and delete request with one SQLite commit (the create+delete reference). Both are driven
/// from here over loopback with the same concurrency and client. Prints one JSON line.
/// </summary>
internal sealed partial class AgentBenchmark : IBenchmarkCommand
{
    public string Name => "agent";

    public string Usage => "[--instances 1000] [--seconds 5] [--concurrency 32] [--phases list,create-delete] [--durability Normal|Full]   (agent API vs bare Kestrel: list; vs a journaled bare Kestrel: create+delete)";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        if (arguments.Get("serve-bare", string.Empty) is { Length: > 0 } bytesFile)
        {
            return await ServeBareAsync(bytesFile, arguments.Get("durability", "Normal") == "Full", cancellationToken).ConfigureAwait(false);
        }

        var instances = arguments.GetInt("instances", 1000);
        var duration = TimeSpan.FromSeconds(arguments.GetInt("seconds", 5));
        var concurrency = arguments.GetInt("concurrency", 32);
        var phases = arguments.Get("phases", "list,create-delete").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var measureList = phases.Contains("list");
        var durability = arguments.Get("durability", "Normal");
        var measureCreateDelete = phases.Contains("create-delete");
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-bench-").FullName;
        var listFile = Path.Combine(dataDirectory, "list.json");
        try
        {
            var agentDll = Path.Combine(AppContext.BaseDirectory, "Hypervisors.Agent.dll");
            using var agent = await ChildServer.StartAsync(
                [agentDll, "--Agent:Listen:0=http://127.0.0.1:0", $"--Agent:DataDirectory={dataDirectory}", "--Logging:LogLevel:Default=Warning",
                 "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information", "--Agent:Drivers:local:VCpus=100000", "--Agent:Drivers:local:MemoryMiB=100000000", $"--Agent:JournalDurability={durability}"],
                cancellationToken).ConfigureAwait(false);
            using var http = NewClient(agent.BaseAddress, concurrency);
            var client = new AgentClient(http);

            await Parallel.ForAsync(0, instances, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (i, ct) =>
                await client.CreateInstanceAsync("local", Guid.NewGuid(), new CreateInstanceRequest { Name = $"bench-{i:D5}", VCpus = 1, MemoryMiB = 64 }, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false)).ConfigureAwait(false);
            var listPath = new Uri("/v1/drivers/local/instances", UriKind.Relative);
            var listBytes = await http.GetByteArrayAsync(listPath, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(listFile, listBytes, cancellationToken).ConfigureAwait(false);
            var listed = JsonSerializer.Deserialize<List<InstanceInfo>>(listBytes, AgentJson.Options)!.Count;
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            var idleRss = agent.ResidentBytes();

            using var bare = await ChildServer.StartAsync([typeof(AgentBenchmark).Assembly.Location, "agent", "--serve-bare", listFile, "--durability", durability], cancellationToken).ConfigureAwait(false);
            using var bareHttp = NewClient(bare.BaseAddress, concurrency);
            var barePath = new Uri("/list", UriKind.Relative);

            LoadResult? bareList = null, agentList = null, bareCreateDelete = null, createDelete = null;
            long peakRss = 0;
            if (measureList)
            {
                // Warm both up, then measure each alone.
                await MeasureAsync(concurrency, TimeSpan.FromSeconds(1), ct => GetAsync(bareHttp, barePath, ct), cancellationToken).ConfigureAwait(false);
                await MeasureAsync(concurrency, TimeSpan.FromSeconds(1), ct => GetAsync(http, listPath, ct), cancellationToken).ConfigureAwait(false);
                bareList = await MeasureAsync(concurrency, duration, ct => GetAsync(bareHttp, barePath, ct), cancellationToken).ConfigureAwait(false);
                agentList = await MeasureAsync(concurrency, duration, ct => GetAsync(http, listPath, ct), cancellationToken, () => peakRss = Math.Max(peakRss, agent.ResidentBytes())).ConfigureAwait(false);
            }

            if (measureCreateDelete)
            {
                // The reference: the same two requests through the same client to bare Kestrel that journals each one
                // with its own SQLite WAL commit (see ServeBareAsync). Warm both up, then measure them interleaved,
                // each alone, best of two rounds each.
                var bareClient = new AgentClient(bareHttp);
                await WarmUpAsync(concurrency, ct => CreateDeleteAsync(bareClient, ct), cancellationToken).ConfigureAwait(false);
                await WarmUpAsync(concurrency, ct => CreateDeleteAsync(client, ct), cancellationToken).ConfigureAwait(false);
                for (var round = 0; round < 2; round++)
                {
                    bareCreateDelete = Best(bareCreateDelete, await WithServerCpuAsync(bare, () => MeasureAsync(concurrency, duration, ct => CreateDeleteAsync(bareClient, ct), cancellationToken)).ConfigureAwait(false));
                    createDelete = Best(createDelete, await WithServerCpuAsync(agent, () => MeasureAsync(concurrency, duration, ct => CreateDeleteAsync(client, ct), cancellationToken,
                        () => peakRss = Math.Max(peakRss, agent.ResidentBytes()))).ConfigureAwait(false));
                }
            }

            var report = new
            {
                benchmark = "agent",
                instances = listed,
                listBytes = listBytes.Length,
                concurrency,
                durability,
                seconds = duration.TotalSeconds,
                bareList = bareList?.ToReport(),
                agentList = agentList?.ToReport(),
                listThroughputRatio = bareList is null ? (double?)null : Math.Round(agentList!.PerSecond / bareList.PerSecond, 3),
                createDeleteReference = bareCreateDelete?.ToReport(),
                createDelete = createDelete?.ToReport(),
                createDeleteThroughputRatio = bareCreateDelete is null ? (double?)null : Math.Round(createDelete!.PerSecond / bareCreateDelete.PerSecond, 3),

                // Server CPU per create+delete: less disturbed by other load on the machine than throughput.
                createDeleteServerCpuRatio = bareCreateDelete is null ? (double?)null : Math.Round(createDelete!.ServerCpuMsPerCall / bareCreateDelete.ServerCpuMsPerCall, 3),
                agentRssIdleMiB = Math.Round(idleRss / 1048576.0, 1),
                agentRssPeakUnderLoadMiB = Math.Round(peakRss / 1048576.0, 1),
                targets = new
                {
                    listAtLeastHalfOfBare = agentList is null ? (bool?)null : agentList.PerSecond >= bareList!.PerSecond / 2,
                    createDeleteAtLeast4000PerSecond = createDelete is null ? (bool?)null : createDelete.PerSecond >= 4000,
                    createDeleteP99AtMost20Ms = createDelete is null ? (bool?)null : createDelete.Percentile(0.99) <= 20,
                },
            };
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    /// <summary>One journaled create and delete of a new instance, both waited for.</summary>
    private static async Task CreateDeleteAsync(AgentClient client, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        var created = await client.CreateInstanceAsync("local", id, new CreateInstanceRequest { Name = "cd-" + id.ToString("N"), VCpus = 1, MemoryMiB = 64 }, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        var deleted = await client.DeleteInstanceAsync("local", id, TimeSpan.FromSeconds(30), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (created.State != OperationState.Succeeded || deleted.State != OperationState.Succeeded)
        {
            throw new InvalidOperationException($"create {created.State}, delete {deleted.State}");
        }
    }

    /// <summary>
    /// One-second rounds until throughput settles (within 10% of the round before, at most 10 rounds): a server's
    /// first seconds are spent in the JIT (tiered compilation recompiles the hot paths on background threads, slowly
    /// on a loaded machine), and a long-running agent's steady state is what is measured.
    /// </summary>
    private static async Task WarmUpAsync(int concurrency, Func<CancellationToken, Task> call, CancellationToken cancellationToken)
    {
        double previous = 0;
        for (var round = 0; round < 10; round++)
        {
            var rate = (await MeasureAsync(concurrency, TimeSpan.FromSeconds(1), call, cancellationToken).ConfigureAwait(false)).PerSecond;
            if (round > 0 && Math.Abs(rate - previous) <= previous * 0.1)
            {
                return;
            }

            previous = rate;
        }
    }

    /// <summary>Runs a measurement and notes the CPU time <paramref name="server"/> spent meanwhile.</summary>
    private static async Task<LoadResult> WithServerCpuAsync(ChildServer server, Func<Task<LoadResult>> measure)
    {
        var before = server.CpuTime();
        var result = await measure().ConfigureAwait(false);
        return result with { ServerCpu = server.CpuTime() - before };
    }

    /// <summary>The round with the higher throughput.</summary>
    private static LoadResult Best(LoadResult? best, LoadResult round) => best is null || round.PerSecond > best.PerSecond ? round : best;

    private static HttpClient NewClient(Uri baseAddress, int concurrency) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };

    private static async Task GetAsync(HttpClient http, Uri path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(path, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Runs <paramref name="call"/> from <paramref name="concurrency"/> workers for <paramref name="duration"/>.</summary>
    private static async Task<LoadResult> MeasureAsync(int concurrency, TimeSpan duration, Func<CancellationToken, Task> call, CancellationToken cancellationToken, Action? sample = null)
    {
        var latencies = new List<double>[concurrency];
        var clock = Stopwatch.StartNew();
        using var sampler = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sampling = Task.Run(async () =>
        {
            try
            {
                while (await sampler.WaitForNextTickAsync(done.Token).ConfigureAwait(false))
                {
                    sample?.Invoke();
                }
            }
            catch (OperationCanceledException)
            {
                // Measurement over.
            }
        }, CancellationToken.None);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = new List<double>(4096);
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                await call(cancellationToken).ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })).ConfigureAwait(false);
        var elapsed = clock.Elapsed;
        await done.CancelAsync().ConfigureAwait(false);
        await sampling.ConfigureAwait(false);
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length, elapsed, all);
    }

    /// <summary>The bare endpoints: Kestrel serving fixed list bytes, and the journaled create+delete reference.</summary>
    private static async Task<int> ServeBareAsync(string bytesFile, bool fullSync, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(bytesFile, cancellationToken).ConfigureAwait(false);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapGet("/list", () => Results.Bytes(bytes, "application/json"));

        // The create+delete reference: the agent's two request shapes, each journaled with one SQLite insert in its own
        // WAL transaction (synchronous as the agent's journal: NORMAL by default, FULL with --durability Full) before
        // it is answered, and nothing else: no driver, no idempotency lookup, no completion record, no events.
        using var journal = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = bytesFile + ".reference.db", Pooling = false }.ToString());
        journal.Open();
        using (var setup = journal.CreateCommand())
        {
            setup.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={(fullSync ? "FULL" : "NORMAL")}; CREATE TABLE IF NOT EXISTS operations(id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL, at INTEGER NOT NULL);";
            setup.ExecuteNonQuery();
        }

        using var insert = journal.CreateCommand();
        insert.CommandText = "INSERT INTO operations(id, instance_id, kind, request, at) VALUES($id, $instance, $kind, $request, $at)";
        foreach (var name in new[] { "$id", "$instance", "$kind", "$request", "$at" })
        {
            insert.Parameters.Add(new SqliteParameter(name, null));
        }

        insert.Prepare();
        var gate = new Lock();
        OperationResource Journal(Guid instanceId, string kind, string request, JsonElement? result)
        {
            var now = DateTimeOffset.UtcNow;
            var id = Guid.CreateVersion7(now).ToString("N");
            lock (gate)
            {
                insert.Parameters[0].Value = id;
                insert.Parameters[1].Value = instanceId.ToString("D");
                insert.Parameters[2].Value = kind;
                insert.Parameters[3].Value = request;
                insert.Parameters[4].Value = now.ToUnixTimeMilliseconds();
                insert.ExecuteNonQuery();
            }

            return new OperationResource { Id = id, Driver = "local", InstanceId = instanceId, Kind = kind, State = OperationState.Succeeded, CreatedAt = now, UpdatedAt = now, Result = result };
        }

        app.MapPut("/v1/drivers/local/instances/{id:guid}", (Guid id, CreateInstanceRequest body) =>
        {
            var info = new InstanceInfo(id, body.Name, PowerState.Shutdown, body.VCpus, body.MemoryMiB, TimeSpan.Zero);
            return Results.Json(Journal(id, "create", JsonSerializer.Serialize(body, AgentJson.Options), JsonSerializer.SerializeToElement(info, AgentJson.Options)), AgentJson.Options);
        });
        app.MapDelete("/v1/drivers/local/instances/{id:guid}", (Guid id) => Results.Json(Journal(id, "delete", "{}", null), AgentJson.Options));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine("Now listening on: " + app.Urls.First());
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private sealed record LoadResult(int Count, TimeSpan Elapsed, double[] SortedLatenciesMs)
    {
        /// <summary>CPU time the server process spent during the measurement, when noted.</summary>
        public TimeSpan? ServerCpu { get; init; }

        public double ServerCpuMsPerCall => ServerCpu is { } cpu && Count > 0 ? cpu.TotalMilliseconds / Count : double.NaN;

        public double PerSecond => Count / Elapsed.TotalSeconds;

        public object ToReport() => new
        {
            requests = Count,
            serverCpuMsPerCall = ServerCpu is null ? (double?)null : Math.Round(ServerCpuMsPerCall, 3),
            perSecond = Math.Round(PerSecond, 0),
            p50Ms = Math.Round(Percentile(0.50), 3),
            p99Ms = Math.Round(Percentile(0.99), 3),
        };

        public double Percentile(double p) => SortedLatenciesMs.Length == 0 ? 0 : SortedLatenciesMs[Math.Min(SortedLatenciesMs.Length - 1, (int)(p * SortedLatenciesMs.Length))];
    }

    /// <summary>A server child process that prints "Now listening on: URL".</summary>
    private sealed partial class ChildServer : IDisposable
    {
        private readonly Process _process;

        private ChildServer(Process process, Uri baseAddress)
        {
            _process = process;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        public static async Task<ChildServer> StartAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            // The same runtime settings for both servers: server GC, as ASP.NET Core apps default to, and the agent's
            // shipped TieredPGO=false (its project file sets it; the reference gets it here).
            start.Environment["DOTNET_gcServer"] = "1";
            start.Environment["DOTNET_TieredPGO"] = "0";
            var process = Process.Start(start)!;
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.OutputDataReceived += (_, line) =>
            {
                if (line.Data is null)
                {
                    listening.TrySetException(new InvalidOperationException("The server exited before listening."));
                }
                else if (ListeningLine().Match(line.Data) is { Success: true } match)
                {
                    listening.TrySetResult(new Uri(match.Groups[1].Value));
                }
            };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                return new ChildServer(process, await listening.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false));
            }
            catch
            {
                process.Kill();
                process.Dispose();
                throw;
            }
        }

        /// <summary>The child's CPU time so far (user and system).</summary>
        public TimeSpan CpuTime()
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }

        /// <summary>VmRSS of the child, from /proc.</summary>
        public long ResidentBytes()
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }

        [GeneratedRegex(@"Now listening on: (http://\S+)")]
        private static partial Regex ListeningLine();
    }
}
