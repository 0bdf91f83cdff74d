using System.Globalization;
using HyperVSimulator;

// hyperv-simulator [--port N] [--user U] [--password P] [--url-file PATH] [--job-ms N]
// Serves WS-Management on http://127.0.0.1:N/wsman until SIGTERM, SIGINT or SIGQUIT; writes the URL to --url-file when given.
var values = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    values[args[i].TrimStart('-')] = args[i + 1];
}

var defaults = new HyperVSimulatorOptions();
var options = defaults with
{
    UserName = values.GetValueOrDefault("user", defaults.UserName),
    Password = values.GetValueOrDefault("password", Environment.GetEnvironmentVariable("HYPERV_SIM_PASSWORD") ?? defaults.Password),
};
var port = int.Parse(values.GetValueOrDefault("port", "5985"), CultureInfo.InvariantCulture);
using var signals = new Hypervisors.Fakes.SimulatorSignals();
await using var server = await HyperVSimulatorServer.StartAsync(options, port);
if (values.TryGetValue("job-ms", out var jobMs))
{
    server.Host.Behavior.JobDuration = TimeSpan.FromMilliseconds(int.Parse(jobMs, CultureInfo.InvariantCulture));
}

if (values.TryGetValue("url-file", out var urlFile))
{
    await File.WriteAllTextAsync(urlFile, server.Endpoint.AbsoluteUri + "\n");
}

Console.WriteLine($"Hyper-V simulator listening on {server.Endpoint}");
await signals.WaitAsync();
