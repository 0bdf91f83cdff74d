using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hypervisors.Xen;
using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Bench;

/// <summary>
/// <c>xen [--url URL] -n 1000 -p 8 --rounds 3</c>: creates, powers on, lists, powers off and destroys n VMs through
/// <see cref="XenDriver"/> with p operations in flight and prints one JSON line with the ESX benchmark's keys. Without
/// --url it starts the XenAPI simulator in process and also prints the calls per instance the simulator received.
/// Unless <c>--python none</c>, each round also runs bench/xmlrpc-python/xenapi_phases.py against the same server with
/// Python's xmlrpc.client and synchronous calls, twice: sending the calls of the driver's round-trip table (the same
/// work, the contract's checks included) and with <c>--plain</c> only the bare calls. Rounds are interleaved; the best
/// (minimum total) of each side is printed, then the ratios dotnet/python per phase (below 1: the driver is faster).
/// </summary>
internal sealed class XenBenchmark : IBenchmarkCommand
{
    private static readonly string[] PhaseKeys = ["create_ms", "power_on_ms", "list_ms", "power_off_ms", "destroy_ms"];

    public string Name => "xen";

    public string Usage => "[--url https://pool-master/] -n 1000 -p 8 [--rounds 3] [--transport xmlrpc|jsonrpc] [--user U --password P (or $XEN_PASSWORD)] [--warmup 16] [--python python3|none]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var n = arguments.GetInt("n", 1000);
        var parallelism = arguments.GetInt("p", 8);
        var warmup = arguments.GetInt("warmup", 16);
        var rounds = Math.Max(1, arguments.GetInt("rounds", 3));
        var python = arguments.Get("python", "python3");
        var transport = arguments.Get("transport", "xmlrpc") switch
        {
            "xmlrpc" => XenApiTransport.XmlRpc,
            "jsonrpc" => XenApiTransport.JsonRpc,
            var other => throw new ArgumentException($"--transport must be xmlrpc or jsonrpc, not '{other}'."),
        };
        var simulatorOptions = new XenApiSimulatorOptions { HostMemoryBytes = 1L << 50, CpuCount = 64 };
        XenApiSimulatorHost? simulator = null;
        var url = arguments.Get("url", string.Empty);
        if (url.Length == 0)
        {
            simulator = await XenApiSimulatorHost.StartAsync(simulatorOptions, cancellationToken: cancellationToken).ConfigureAwait(false);
            url = simulator.Url.AbsoluteUri;
        }

        try
        {
            var user = arguments.Get("user", simulatorOptions.UserName);
            var password = arguments.Get("password", Environment.GetEnvironmentVariable("XEN_PASSWORD") ?? simulatorOptions.Password);
            var impl = "dotnet-xen-" + (transport == XenApiTransport.JsonRpc ? "jsonrpc" : "xmlrpc") + (simulator is null ? string.Empty : "-simulator");
            double[]? bestDriver = null;
            JsonElement? bestSame = null;
            JsonElement? bestPlain = null;
            for (var round = 0; round < rounds; round++)
            {
                var phases = await RunDriverRoundAsync(url, transport, user, password, n, parallelism, warmup, simulator, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(DriverPhases.JsonLine(impl + " round", n, parallelism, phases));
                if (bestDriver is null || phases.Sum() < bestDriver.Sum())
                {
                    bestDriver = phases;
                }

                if (python != "none")
                {
                    bestSame = Best(bestSame, await RunPythonReferenceAsync(python, url, user, password, n, parallelism, plain: false, cancellationToken).ConfigureAwait(false));
                    bestPlain = Best(bestPlain, await RunPythonReferenceAsync(python, url, user, password, n, parallelism, plain: true, cancellationToken).ConfigureAwait(false));
                }
            }

            Console.WriteLine("best of " + rounds.ToString(CultureInfo.InvariantCulture) + " interleaved rounds:");
            Console.WriteLine(DriverPhases.JsonLine(impl, n, parallelism, bestDriver!));
            foreach (var reference in new[] { bestSame, bestPlain })
            {
                if (reference is { } py)
                {
                    Console.WriteLine(py.GetRawText());
                    var ratios = PhaseKeys.Select((k, i) => string.Create(CultureInfo.InvariantCulture, $"\"{k[..^3]}\":{bestDriver![i] / py.GetProperty(k).GetDouble():F2}"));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"impl\":\"ratio dotnet/{py.GetProperty("impl").GetString()} (below 1: .NET faster)\",{string.Join(',', ratios)},\"total\":{bestDriver!.Sum() / py.GetProperty("total_ms").GetDouble():F2}}}"));
                }
            }
        }
        finally
        {
            if (simulator is not null)
            {
                await simulator.DisposeAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static JsonElement Best(JsonElement? best, JsonElement candidate) =>
        best is { } known && known.GetProperty("total_ms").GetDouble() <= candidate.GetProperty("total_ms").GetDouble() ? known : candidate;

    private static async Task<double[]> RunDriverRoundAsync(string url, XenApiTransport transport, string user, string password, int n, int parallelism, int warmup,
        XenApiSimulatorHost? simulator, CancellationToken cancellationToken)
    {
        await using var driver = new XenDriver(new XenDriverOptions { Url = new Uri(url), Transport = transport }.UseCredentials(user, password));
        await JitWarmup.UntilSettledAsync(ct => DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, ct), cancellationToken).ConfigureAwait(false);
        simulator?.Options.Control.ResetCallCounts();
        var phases = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
        if (simulator is not null)
        {
            var counts = simulator.Options.Control.CallCounts;
            var tasks = counts.Where(c => c.Key.StartsWith("Async.", StringComparison.Ordinal)).Sum(c => c.Value);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\":\"dotnet-xen round calls\",\"calls_per_instance\":{counts.Values.Sum() / (double)n:F2},\"tasks\":{tasks},\"event_from\":{counts.GetValueOrDefault("event.from")}}}"));
        }

        return phases;
    }

    private static async Task<JsonElement> RunPythonReferenceAsync(
        string python, string url, string user, string password, int n, int parallelism, bool plain, CancellationToken cancellationToken)
    {
        var script = Path.Combine(XenCodecBenchmark.FindRepositoryRoot(), "bench", "xmlrpc-python", "xenapi_phases.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.Environment["XEN_PASSWORD"] = password; // not on the command line, where other users could read it
        foreach (var argument in new[] { script, url, user, n.ToString(CultureInfo.InvariantCulture), parallelism.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        if (plain)
        {
            start.ArgumentList.Add("--plain");
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {python}.");
        var output = (await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim();
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}.");
        }

        Console.WriteLine(output);
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }
}
