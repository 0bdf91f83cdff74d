namespace Hypervisors.Agent.Configuration;

/// <summary>
/// The agent refuses to start: a setting is wrong or its environment is not usable (the data directory is held by
/// another agent, the journal is unreadable, the port is taken). <c>Program</c> prints the message as one line and
/// exits with <see cref="ExitCode"/>, without a stack trace, so systemd does not loop on a mistake.
/// </summary>
internal sealed class AgentStartupException(string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>EX_CONFIG from sysexits.h: the configuration is wrong.</summary>
    public const int ConfigurationExitCode = 78;

    /// <summary>The process exit code.</summary>
    public int ExitCode { get; init; } = ConfigurationExitCode;

    /// <summary>A setting's value is wrong; the message starts with its key.</summary>
    public static AgentStartupException Setting(string key, string problem, Exception? innerException = null) => new($"{key}: {problem}", innerException);
}
