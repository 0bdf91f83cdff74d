using System.Diagnostics;

namespace Hypervisors.HostTools;

/// <summary>What a host tool printed and how it ended.</summary>
/// <param name="ExitCode">The process's exit code.</param>
/// <param name="Output">Everything it wrote to standard output.</param>
/// <param name="Error">Everything it wrote to standard error.</param>
internal readonly record struct HostToolResult(int ExitCode, string Output, string Error);

/// <summary>
/// Runs a host tool (qemu-img, ip, uml_moo, ...) to its end: every argument goes through
/// <see cref="ProcessStartInfo.ArgumentList"/> (no shell, no command line string), standard input is closed, both
/// output streams are read while it runs, and a cancelled run kills the tool's whole process tree. Each caller turns
/// a failed start or a non-zero exit into its own typed error. Compiled into each package that runs tools (a linked
/// source file), so no package depends on another for it.
/// </summary>
internal static class HostToolProcess
{
    /// <summary>Runs <paramref name="program"/>; a tool that cannot be started throws <see cref="System.ComponentModel.Win32Exception"/>.</summary>
    public static async Task<HostToolResult> RunAsync(string program, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = new Process { StartInfo = start };
        process.Start();
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new HostToolResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }
}
