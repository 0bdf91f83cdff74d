using Hypervisors.Agent.Hosting;

await using var app = AgentApplication.Build(args);
await app.RunAsync().ConfigureAwait(false);
