using System.Globalization;
using XenApiSimulator;

// Runs the simulator as its own process:
// `XenApiSimulator [--port N] [--url-file PATH] [--user U] [--password P] [--guests-have-pv-drivers]`.
// Prints the URL on stdout (and writes it to --url-file), then serves until SIGTERM, SIGINT (Ctrl+C) or SIGQUIT.
var options = new XenApiSimulatorOptions();
var port = 0;
string? urlFile = null;
for (var i = 0; i < args.Length; i += 2)
{
    if (args[i] == "--guests-have-pv-drivers")
    {
        options.GuestsHavePvDrivers = true;
        i--;
        continue;
    }

    if (i + 1 >= args.Length)
    {
        await Console.Error.WriteLineAsync($"option {args[i]} needs a value");
        return 2;
    }

    switch (args[i])
    {
        case "--port":
            port = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--url-file":
            urlFile = args[i + 1];
            break;
        case "--user":
            options.UserName = args[i + 1];
            break;
        case "--password":
            options.Password = args[i + 1];
            break;
        default:
            await Console.Error.WriteLineAsync($"unknown option {args[i]}");
            return 2;
    }
}

using var signals = new Hypervisors.Fakes.SimulatorSignals();
await using var host = await XenApiSimulatorHost.StartAsync(options, port);
if (urlFile is not null)
{
    await File.WriteAllTextAsync(urlFile, host.Url.ToString());
}

Console.WriteLine(host.Url);
await signals.WaitAsync();

return 0;
