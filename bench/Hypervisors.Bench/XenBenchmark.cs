using System.Globalization;
using Hypervisors.Xen;
using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Bench;

/// <summary>
/// <c>xen [--url URL] -n 1000 -p 8</c>: creates, powers on, lists, powers off and destroys n VMs through
/// <see cref="XenDriver"/> with p operations in flight and prints one JSON line with the ESX benchmark's keys.
/// Without --url it starts the XenAPI simulator in process. Power operations are XenAPI Async tasks awaited through
/// the driver's event.from loop, as against a real pool. Unless <c>--python none</c>, bench/xmlrpc-python/xenapi_phases.py
/// then does the same phases against the same server with Python's xmlrpc.client and synchronous calls (a hand-written
/// script's way), printed as a second line, with each phase's ratio python/dotnet as a third.
/// </summary>
internal sealed class XenBenchmark : IBenchmarkCommand
{
    public string Name => "xen";

    public string Usage => "[--url https://pool-master/] -n 1000 -p 8 [--transport xmlrpc|jsonrpc] [--user U --password P (or $XEN_PASSWORD)] [--warmup 16] [--python python3|none]";

    public async Task<int> RunAsync(BenchmarkArguments arguments, CancellationToken cancellationToken)
    {
        var n = arguments.GetInt("n", 1000);
        var parallelism = arguments.GetInt("p", 8);
        var warmup = arguments.GetInt("warmup", 16);
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
            double[] phases;
            await using (var driver = new XenDriver(new XenDriverOptions { Url = new Uri(url), Transport = transport }.UseCredentials(user, password)))
            {
                await DriverPhases.RunCheckedAsync(driver, "warm", warmup, parallelism, cancellationToken).ConfigureAwait(false); // JIT the measured paths
                phases = await DriverPhases.RunCheckedAsync(driver, "bench", n, parallelism, cancellationToken).ConfigureAwait(false);
            }

            var impl = "dotnet-xen-" + (transport == XenApiTransport.JsonRpc ? "jsonrpc" : "xmlrpc") + (simulator is null ? string.Empty : "-simulator");
            Console.WriteLine(DriverPhases.JsonLine(impl, n, parallelism, phases));
            var python = arguments.Get("python", "python3");
            if (python != "none")
            {
                var reference = await RunPythonReferenceAsync(python, url, user, password, n, parallelism, cancellationToken).ConfigureAwait(false);
                string[] keys = ["create_ms", "power_on_ms", "list_ms", "power_off_ms", "destroy_ms"];
                var ratios = keys.Select((k, i) => string.Create(CultureInfo.InvariantCulture, $"\"{k[..^3]}\":{reference.GetProperty(k).GetDouble() / phases[i]:F2}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"impl\":\"ratio python/dotnet (above 1: .NET faster)\",{string.Join(',', ratios)},\"total\":{reference.GetProperty("total_ms").GetDouble() / phases.Sum():F2}}}"));
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

    private static Task<System.Text.Json.JsonElement> RunPythonReferenceAsync(
        string python, string url, string user, string password, int n, int parallelism, CancellationToken cancellationToken) =>
        PythonReference.RunAsync(python, Path.Combine("bench", "xmlrpc-python", "xenapi_phases.py"),
            [url, user, password, n.ToString(CultureInfo.InvariantCulture), parallelism.ToString(CultureInfo.InvariantCulture)], null, cancellationToken);
}
