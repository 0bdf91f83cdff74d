using System.Diagnostics;
using System.Text.Json;

namespace Hypervisors.Bench;

/// <summary>Runs one of the Python reference scripts under bench/ and reads the JSON line it prints.</summary>
internal static class PythonReference
{
    /// <summary>
    /// Runs <paramref name="python"/> on <paramref name="scriptPath"/> (relative to the repository root) with
    /// <paramref name="arguments"/> and <paramref name="environment"/> (for secrets, which stay off the command line);
    /// echoes and returns the JSON line it printed.
    /// </summary>
    public static async Task<JsonElement> RunAsync(string python, string scriptPath, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var script = Path.Combine(XenCodecBenchmark.FindRepositoryRoot(), scriptPath);
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {python}.");
        var output = (await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim();
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} exited with {process.ExitCode}.");
        }

        Console.WriteLine(output);
        using var document = JsonDocument.Parse(output);
        return document.RootElement.Clone();
    }
}
