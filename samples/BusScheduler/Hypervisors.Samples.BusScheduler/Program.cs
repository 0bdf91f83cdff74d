using Hypervisors.Agent.Fleet;
using Hypervisors.Samples.BusScheduler;

// Usage: Hypervisors.Samples.BusScheduler <broker host:port> <count> [vcpus] [memoryMiB]
// Waits for heartbeats, places <count> instances by reported capacity, prints where each went and the services' state.
if (args.Length < 2 || !int.TryParse(args[1], System.Globalization.CultureInfo.InvariantCulture, out var count))
{
    Console.Error.WriteLine("usage: Hypervisors.Samples.BusScheduler <broker host:port> <count> [vcpus] [memoryMiB]");
    return 2;
}

var vcpus = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 1;
var memory = args.Length > 3 ? long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 256;
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
var broker = new BrokerOptions { PasswordFile = Environment.GetEnvironmentVariable("AMQP_PASSWORD_FILE") };
broker.Endpoints.Add(args[0]);
await using var fleet = await FleetClient.ConnectAsync(broker, cancellationToken: stop.Token);
await Task.Delay(TimeSpan.FromSeconds(11), stop.Token);
var scheduler = new BusPlacementScheduler(fleet);
for (var i = 0; i < count; i++)
{
    var placement = await scheduler.PlaceAsync(new BusPlacementRequest(Guid.NewGuid(), $"bus-{i:D4}", vcpus, memory), stop.Token);
    Console.WriteLine(placement.IsPlaced ? $"{placement.Request.Name} -> {placement.Host}" : $"{placement.Request.Name} not placed: {placement.Reason}");
}

foreach (var service in fleet.Services)
{
    Console.WriteLine($"{service.Host}: {(service.IsUp ? "up" : "down")}, {string.Join(", ", service.Heartbeat.Drivers.Select(d => $"{d.Driver} {d.VCpusFree} vCPUs {d.MemoryMiBFree} MiB free"))}");
}

return 0;
