using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Hosting;

try
{
    await using var app = AgentApplication.Build(args);
    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (Exception exception) when (AgentApplication.StartupFailure(exception) is { } refusal)
{
    // One line, no stack trace, and EX_CONFIG: systemd's RestartPreventExitStatus=78 keeps it from looping.
    await Console.Error.WriteLineAsync($"hypervisors-agent: {refusal.Message}").ConfigureAwait(false);
    return refusal.ExitCode;
}
