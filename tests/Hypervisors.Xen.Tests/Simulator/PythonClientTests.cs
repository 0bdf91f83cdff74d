using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Hypervisors.Testing;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Simulator;

/// <summary>
/// Python's standard xmlrpc.client and http.client, independent of the project's code, drive the simulator: a
/// session, a VM life cycle, Async tasks with event.from and illegal calls, checking the envelopes byte for byte
/// (python/xenapi_wire_check.py); and XenAPI's HTTP import handler with the answers xapi gives
/// (python/xenapi_import_check.py).
/// </summary>
public sealed partial class PythonClientTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Python_xmlrpc_client_agrees_with_the_simulator(bool guestsHavePvDrivers)
    {
        await using var simulator = await XenApiSimulatorHost.StartAsync(new XenApiSimulatorOptions { GuestsHavePvDrivers = guestsHavePvDrivers },
            cancellationToken: TestContext.Current.CancellationToken);
        await RunPythonAsync("xenapi_wire_check.py", simulator, guestsHavePvDrivers ? "with-pv-drivers" : "without-pv-drivers");
    }

    [Fact]
    public async Task Python_http_client_imports_a_raw_vdi_as_xapi_answers()
    {
        await using var simulator = await XenApiSimulatorHost.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var output = await RunPythonAsync("xenapi_import_check.py", simulator);

        // The bytes the script sent are the VDI's, as the simulator stored them.
        var imported = ImportedLine().Match(output);
        Assert.True(imported.Success, "The script did not report the imported VDI:\n" + output);
        var stored = simulator.ReadVdi(imported.Groups["uuid"].Value, int.Parse(imported.Groups["length"].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(imported.Groups["sha"].Value, Convert.ToHexStringLower(SHA256.HashData(stored)));
        lock (simulator.Database.Gate)
        {
            Assert.Empty(simulator.Database.All("task"));
        }
    }

    private static async Task<string> RunPythonAsync(string scriptName, XenApiSimulatorHost simulator, params string[] extra)
    {
        var python = FindOnPath("python3");
        ExternalParts.Require(python is not null, "python3");
        var script = Path.Combine(AppContext.BaseDirectory, "python", scriptName);
        Assert.True(File.Exists(script), $"{script} was not copied to the output.");

        var start = new ProcessStartInfo(python!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(simulator.Url.ToString());
        start.ArgumentList.Add(simulator.Options.UserName);
        start.ArgumentList.Add(simulator.Options.Password);
        foreach (var argument in extra)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"The Python check failed (exit {process.ExitCode}):\n{output}");
        Assert.Contains("ALL CHECKS PASSED", output, StringComparison.Ordinal);
        return output;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"^IMPORTED (?<uuid>[0-9a-f-]{36}) (?<length>\d+) (?<sha>[0-9a-f]{64})$", RegexOptions.Multiline)]
    private static partial Regex ImportedLine();
}
