using System.Globalization;
using Hypervisors.Agent.Client;
using Hypervisors.Samples.Scheduler;

// Usage: Scheduler --agent a=http://10.0.0.1:8470 --agent b=http://10.0.0.2:8470 [--token-file F] --count 4 --vcpus 2 --memory 2048 [--prefix web]
var agentUrls = new List<(string Name, Uri Url)>();
string? tokenFile = null;
int count = 1, vcpus = 1;
long memory = 512;
var prefix = "vm";
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--agent":
            var parts = args[i + 1].Split('=', 2);
            agentUrls.Add((parts[0], new Uri(parts[1])));
            break;
        case "--token-file": tokenFile = args[i + 1]; break;
        case "--count": count = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--vcpus": vcpus = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--memory": memory = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--prefix": prefix = args[i + 1]; break;
        default: throw new ArgumentException($"Unknown option {args[i]}.");
    }
}

var token = tokenFile is null ? null : File.ReadAllText(tokenFile).Trim();
var clients = agentUrls.Select(a => new HttpClient { BaseAddress = a.Url }).ToList();
try
{
    var scheduler = new PlacementScheduler(agentUrls.Select((a, i) => new AgentTarget(a.Name, new AgentClient(clients[i], token))).ToList());
    for (var n = 0; n < count; n++)
    {
        var placement = await scheduler.PlaceAsync(new PlacementRequest(Guid.NewGuid(), $"{prefix}-{n}", vcpus, memory)).ConfigureAwait(false);
        Console.WriteLine(placement.IsPlaced ? $"{placement.Request.Name} -> {placement.Agent}" : $"{placement.Request.Name} not placed: {placement.Reason}");
    }
}
finally
{
    clients.ForEach(c => c.Dispose());
}
