using System.Diagnostics;
using System.Text.RegularExpressions;
using Hypervisors.Agent.Hosting;
using Hypervisors.Testing;

namespace Hypervisors.Agent.Tests.Infrastructure;

/// <summary>The agent as a child process (<c>dotnet Hypervisors.Agent.dll</c>), for tests that kill it.</summary>
internal sealed partial class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output;

    private AgentProcess(Process process, Uri baseAddress, System.Collections.Concurrent.ConcurrentQueue<string> output)
    {
        _process = process;
        BaseAddress = baseAddress;
        _output = output;
    }

    public Uri BaseAddress { get; }

    public int Id => _process.Id;

    public static async Task<AgentProcess> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var agentDll = typeof(AgentApplication).Assembly.Location;
        var start = ProcessSignals.StartInfo("dotnet", agentDll);
        start.WorkingDirectory = Path.GetDirectoryName(agentDll)!;
        start.ArgumentList.Add("--Agent:Listen:0=http://127.0.0.1:0");
        start.ArgumentList.Add($"--Agent:DataDirectory={dataDirectory}");
        start.ArgumentList.Add("--Logging:LogLevel:Default=Information");
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, line) =>
        {
            if (line.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("The agent exited before listening:\n" + string.Join('\n', output)));
                return;
            }

            output.Enqueue(line.Data);
            if (ListeningLine().Match(line.Data) is { Success: true } match)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                output.Enqueue(line.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var uri = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return new AgentProcess(process, uri, output);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Runs the agent with exactly <paramref name="arguments"/> until it exits (it must, within a minute).</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToExitAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var agentDll = typeof(AgentApplication).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(agentDll)!,
        };
        start.ArgumentList.Add(agentDll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill!.WaitForExitAsync(CancellationToken.None);
        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>What the agent wrote to standard output and error so far.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Sends SIGTERM or SIGINT (<paramref name="signal"/> "TERM" or "INT") and waits for the agent to exit; see <see cref="ProcessSignals"/>.</summary>
    public Task<(TimeSpan Elapsed, int ExitCode)> SignalAndWaitAsync(string signal) => ProcessSignals.SignalAndWaitAsync(_process, signal);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None);
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
