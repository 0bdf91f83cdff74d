using System.Diagnostics;
using System.Globalization;

namespace Hypervisors.Testing;

/// <summary>
/// Checks that a process the project ships stops cleanly on a signal: start it with <see cref="StartInfo"/>, wait
/// until it serves, then <see cref="SignalAndWaitAsync"/>.
/// </summary>
internal static class ProcessSignals
{
    /// <summary>How long a process may take to exit after SIGTERM or SIGINT (systemd and container stops wait about as long before SIGKILL).</summary>
    public static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs <paramref name="fileName"/> with <paramref name="arguments"/> through <c>env --default-signal</c>, so it
    /// starts with SIGINT and SIGQUIT at their default disposition as under a terminal or systemd: a child of a
    /// background job inherits them ignored, and .NET then never sees them. <c>env</c> executes the command in its
    /// own process, so the started process is the command itself. Standard output and error are redirected.
    /// </summary>
    public static ProcessStartInfo StartInfo(string fileName, params IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("env")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("--default-signal=INT,QUIT,TERM");
        start.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> ("TERM", "INT") with kill(1) and waits up to <see cref="StopLimit"/> for the
    /// process to exit; fails (after killing it) when it is still running. Returns the time it took and its exit code.
    /// </summary>
    public static async Task<(TimeSpan Elapsed, int ExitCode)> SignalAndWaitAsync(Process process, string signal)
    {
        ArgumentNullException.ThrowIfNull(process);
        Assert.False(process.HasExited, $"The process exited before it was sent SIG{signal}.");
        var kill = new ProcessStartInfo("kill") { UseShellExecute = false };
        kill.ArgumentList.Add("-s");
        kill.ArgumentList.Add(signal);
        kill.ArgumentList.Add(process.Id.ToString(CultureInfo.InvariantCulture));
        var sent = Stopwatch.GetTimestamp();
        using (var sender = Process.Start(kill) ?? throw new InvalidOperationException("kill did not start."))
        {
            await sender.WaitForExitAsync(CancellationToken.None);
            Assert.Equal(0, sender.ExitCode);
        }

        using var limit = new CancellationTokenSource(StopLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"The process was still running {StopLimit.TotalSeconds} s after SIG{signal}.");
        }

        return (Stopwatch.GetElapsedTime(sent), process.ExitCode);
    }

    /// <summary>
    /// Starts <paramref name="start"/>, waits for its first line of standard output (which must start with
    /// <paramref name="readyPrefix"/>), runs <paramref name="whileRunning"/> with that line, sends
    /// <paramref name="signal"/> and asserts the process exits with code 0 within <see cref="StopLimit"/>.
    /// Returns the first line.
    /// </summary>
    public static async Task<string> AssertStopsCleanlyAsync(ProcessStartInfo start, string readyPrefix, string signal, Func<string, Task>? whileRunning, CancellationToken cancellationToken)
    {
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            if (line is null || !line.StartsWith(readyPrefix, StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"The process's first line is '{line}', not '{readyPrefix}...': {await process.StandardError.ReadToEndAsync(cancellationToken)}");
            }

            if (whileRunning is not null)
            {
                await whileRunning(line);
            }

            var (elapsed, exitCode) = await SignalAndWaitAsync(process, signal);
            if (exitCode != 0)
            {
                Assert.Fail($"The process exited with code {exitCode} after SIG{signal} ({elapsed.TotalMilliseconds:F0} ms): {await process.StandardError.ReadToEndAsync(cancellationToken)}");
            }

            return line;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
