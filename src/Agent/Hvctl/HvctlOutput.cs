using Spectre.Console;

namespace Hypervisors.Hvctl;

/// <summary>Where hvctl writes: tables and progress for people, plain JSON for scripts, problems to the error stream.</summary>
/// <param name="Console">The console for tables and live progress.</param>
/// <param name="Out">The writer for --json output.</param>
/// <param name="Error">The writer for problems.</param>
internal sealed record HvctlOutput(IAnsiConsole Console, TextWriter Out, TextWriter Error);

/// <summary>Exit codes, so scripts can tell a retryable failure from a final one.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    /// <summary>EX_NOINPUT: an input file (the token file) cannot be read.</summary>
    public const int NoInput = 66;

    /// <summary>EX_UNAVAILABLE: nothing answers at the agent's URL.</summary>
    public const int AgentDown = 69;

    /// <summary>EX_TEMPFAIL: the agent answered with a retryable problem.</summary>
    public const int Retryable = 75;

    /// <summary>EX_PROTOCOL: something answered, but not as a Hypervisors agent.</summary>
    public const int NotAnAgent = 76;
}
