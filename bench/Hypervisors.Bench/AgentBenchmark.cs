using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hypervisors.Agent.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Bench;

/// <summary>
/// The compute agent under load. The agent runs as a child process (<c>dotnet Hypervisors.Agent.dll</c>, the
/// in-memory fake holding 1,000 instances, the SQLite journal on); a bare Kestrel endpoint serving the same list
/// bytes runs as a second child process of this program with the same GC settings. Both are driven from here over
/// loopback with the same concurrency. Prints one JSON line.
/// </summary>
internal sealed partial class AgentBenchmark : IBenchmarkCommand
{
    public string Name => "agent";

    public string Usage => "[--instances 1000] [--seconds 5] [--concurrency 32]   (agent API vs bare Kestrel: list and create+delete)";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        if (arguments.Get("serve-bare", string.Empty) is { Length: > 0 } bytesFile)
        {
            return await ServeBareAsync(bytesFile, cancellationToken).ConfigureAwait(false);
        }

        var instances = arguments.GetInt("instances", 1000);
        var duration = TimeSpan.FromSeconds(arguments.GetInt("seconds", 5));
        var concurrency = arguments.GetInt("concurrency", 32);
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-bench-").FullName;
        var listFile = Path.Combine(dataDirectory, "list.json");
        try
        {
            var agentDll = Path.Combine(AppContext.BaseDirectory, "Hypervisors.Agent.dll");
            using var agent = await ChildServer.StartAsync(
                [agentDll, "--Agent:Listen:0=http://127.0.0.1:0", $"--Agent:DataDirectory={dataDirectory}", "--Logging:LogLevel:Default=Warning",
                 "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information", "--Agent:Drivers:local:VCpus=100000", "--Agent:Drivers:local:MemoryMiB=100000000"],
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

            using var bare = await ChildServer.StartAsync([typeof(AgentBenchmark).Assembly.Location, "agent", "--serve-bare", listFile], cancellationToken).ConfigureAwait(false);
            using var bareHttp = NewClient(bare.BaseAddress, concurrency);
            var barePath = new Uri("/list", UriKind.Relative);

            // Warm both up, then measure each alone.
            await MeasureAsync(concurrency, TimeSpan.FromSeconds(1), ct => GetAsync(bareHttp, barePath, ct), cancellationToken).ConfigureAwait(false);
            await MeasureAsync(concurrency, TimeSpan.FromSeconds(1), ct => GetAsync(http, listPath, ct), cancellationToken).ConfigureAwait(false);
            var bareList = await MeasureAsync(concurrency, duration, ct => GetAsync(bareHttp, barePath, ct), cancellationToken).ConfigureAwait(false);
            long peakRss = 0;
            var agentList = await MeasureAsync(concurrency, duration, ct => GetAsync(http, listPath, ct), cancellationToken, () => peakRss = Math.Max(peakRss, agent.ResidentBytes())).ConfigureAwait(false);

            var createDelete = await MeasureAsync(concurrency, duration, async ct =>
            {
                var id = Guid.NewGuid();
                var created = await client.CreateInstanceAsync("local", id, new CreateInstanceRequest { Name = "cd-" + id.ToString("N"), VCpus = 1, MemoryMiB = 64 }, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
                var deleted = await client.DeleteInstanceAsync("local", id, TimeSpan.FromSeconds(30), cancellationToken: ct).ConfigureAwait(false);
                if (created.State != OperationState.Succeeded || deleted.State != OperationState.Succeeded)
                {
                    throw new InvalidOperationException($"create {created.State}, delete {deleted.State}");
                }
            }, cancellationToken, () => peakRss = Math.Max(peakRss, agent.ResidentBytes())).ConfigureAwait(false);

            var report = new
            {
                benchmark = "agent",
                instances = listed,
                listBytes = listBytes.Length,
                concurrency,
                seconds = duration.TotalSeconds,
                bareList = bareList.ToReport(),
                agentList = agentList.ToReport(),
                listThroughputRatio = Math.Round(agentList.PerSecond / bareList.PerSecond, 3),
                createDelete = createDelete.ToReport(),
                agentRssIdleMiB = Math.Round(idleRss / 1048576.0, 1),
                agentRssPeakUnderLoadMiB = Math.Round(peakRss / 1048576.0, 1),
                targets = new
                {
                    listAtLeastHalfOfBare = agentList.PerSecond >= bareList.PerSecond / 2,
                    createDeleteAtLeast2000PerSecond = createDelete.PerSecond >= 2000,
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

    /// <summary>The bare endpoint: Kestrel serving fixed bytes, nothing else.</summary>
    private static async Task<int> ServeBareAsync(string bytesFile, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(bytesFile, cancellationToken).ConfigureAwait(false);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapGet("/list", () => Results.Bytes(bytes, "application/json"));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine("Now listening on: " + app.Urls.First());
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private sealed record LoadResult(int Count, TimeSpan Elapsed, double[] SortedLatenciesMs)
    {
        public double PerSecond => Count / Elapsed.TotalSeconds;

        public object ToReport() => new
        {
            requests = Count,
            perSecond = Math.Round(PerSecond, 0),
            p50Ms = Math.Round(Percentile(0.50), 3),
            p99Ms = Math.Round(Percentile(0.99), 3),
        };

        private double Percentile(double p) => SortedLatenciesMs.Length == 0 ? 0 : SortedLatenciesMs[Math.Min(SortedLatenciesMs.Length - 1, (int)(p * SortedLatenciesMs.Length))];
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

            // The same GC for both servers: server GC, as ASP.NET Core apps default to.
            start.Environment["DOTNET_gcServer"] = "1";
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
