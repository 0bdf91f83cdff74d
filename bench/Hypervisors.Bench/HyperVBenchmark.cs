using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hypervisors.HyperV;
using HyperVSimulator;

namespace Hypervisors.Bench;

/// <summary>
/// <c>hyperv [--url URL] -n 1000 -p 8 --rounds 3</c>: creates, powers on, lists, powers off and destroys n VMs through
/// <see cref="HyperVDriver"/> with p operations in flight, and prints one JSON line with the ESX benchmark's keys.
/// Without --url it starts the Hyper-V simulator in process (jobs of --job-ms, 20 ms by default). Unless
/// <c>--python none</c>, each round also runs bench/winrm-python/hyperv_phases.py (Debian's pywinrm sending only the
/// calls the same work needs) against the same simulator, interleaved with the driver's rounds; the best round of each
/// is printed, then the ratio dotnet/python per phase (below 1: the driver is faster).
/// </summary>
internal sealed class HyperVBenchmark : IBenchmarkCommand
{
    public string Name => "hyperv";

    public string Usage => "[--url http(s)://host:5985/wsman] -n 1000 -p 8 [--rounds 3] [--user U --password P (or $HYPERV_PASSWORD)] [--job-ms 20] [--warmup 16] [--python /usr/bin/python3|none]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var n = arguments.GetInt("n", 1000);
        var parallelism = arguments.GetInt("p", 8);
        var warmup = arguments.GetInt("warmup", 16);
        var rounds = Math.Max(1, arguments.GetInt("rounds", 3));
        var jobMs = arguments.GetInt("job-ms", 20);
        var python = arguments.Get("python", "/usr/bin/python3");
        HyperVSimulatorServer? simulator = null;
        var url = arguments.Get("url", string.Empty);
        if (url.Length == 0)
        {
            simulator = await HyperVSimulatorServer.StartAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            simulator.Host.Behavior.JobDuration = TimeSpan.FromMilliseconds(jobMs);
            url = simulator.Endpoint.AbsoluteUri;
        }

        try
        {
            var defaults = new HyperVSimulatorOptions();
            var user = arguments.Get("user", defaults.UserName);
            var password = arguments.Get("password", Environment.GetEnvironmentVariable("HYPERV_PASSWORD") ?? defaults.Password);
            double[]? bestDriver = null;
            JsonElement? bestPython = null;
            for (var round = 0; round < rounds; round++)
            {
                var phases = await RunDriverRoundAsync(url, user, password, n, parallelism, warmup, simulator, cancellationToken).ConfigureAwait(false);
                if (bestDriver is null || phases.Sum() < bestDriver.Sum())
                {
                    bestDriver = phases;
                }

                if (python != "none")
                {
                    var reference = await RunPythonReferenceAsync(python, url, user, password, n, parallelism, jobMs, cancellationToken).ConfigureAwait(false);
                    if (bestPython is null || reference.GetProperty("total_ms").GetDouble() < bestPython.Value.GetProperty("total_ms").GetDouble())
                    {
                        bestPython = reference;
                    }
                }
            }

            Console.WriteLine("best of " + rounds.ToString(CultureInfo.InvariantCulture) + " interleaved rounds:");
            Console.WriteLine(DriverPhases.JsonLine("dotnet-hyperv" + (simulator is null ? string.Empty : "-simulator"), n, parallelism, bestDriver!));
            if (bestPython is { } py)
            {
                Console.WriteLine(py.GetRawText());
                string[] keys = ["create_ms", "power_on_ms", "list_ms", "power_off_ms", "destroy_ms"];
                var ratios = keys.Select((k, i) => string.Create(CultureInfo.InvariantCulture, $"\"{k[..^3]}\":{bestDriver![i] / py.GetProperty(k).GetDouble():F2}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"impl\":\"ratio dotnet/python (below 1: .NET faster)\",{string.Join(',', ratios)},\"total\":{bestDriver!.Sum() / py.GetProperty("total_ms").GetDouble():F2}}}"));
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

    private static async Task<double[]> RunDriverRoundAsync(string url, string user, string password, int n, int parallelism, int warmup,
        HyperVSimulatorServer? simulator, CancellationToken cancellationToken)
    {
        var options = new HyperVDriverOptions
        {
            Url = new Uri(url),
            UserName = user,
            Password = password,
            JobPollInterval = TimeSpan.FromMilliseconds(50),
        };
        await using var driver = new HyperVDriver(options);
        await DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false);
        simulator?.Host.Behavior.ResetRequestCounts();
        var phases = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
        if (simulator is not null)
        {
            var counts = simulator.Host.Behavior.RequestCounts;
            var jobs = counts.Where(c => c.Key is "DefineSystem" or "ModifyResourceSettings" or "RequestStateChange" or "DestroySystem").Sum(c => c.Value);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"impl\":\"dotnet-hyperv round\",\"total_ms\":{phases.Sum():F1},\"requests_per_instance\":{counts.Values.Sum() / (double)n:F2},\"polls_per_job\":{counts.GetValueOrDefault("Get") / (double)Math.Max(1, jobs):F2}}}"));
        }

        return phases;
    }

    private static async Task<JsonElement> RunPythonReferenceAsync(
        string python, string url, string user, string password, int n, int parallelism, int jobMs, CancellationToken cancellationToken)
    {
        var script = Path.Combine(XenCodecBenchmark.FindRepositoryRoot(), "bench", "winrm-python", "hyperv_phases.py");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.Environment["HYPERV_PASSWORD"] = password; // not on the command line, where other users could read it
        foreach (var argument in new[]
        {
            script, url, user, n.ToString(CultureInfo.InvariantCulture), parallelism.ToString(CultureInfo.InvariantCulture), jobMs.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
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
