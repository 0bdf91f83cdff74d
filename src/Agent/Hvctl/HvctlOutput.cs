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

    /// <summary>EX_TEMPFAIL: the failure is retryable.</summary>
    public const int Retryable = 75;
}
