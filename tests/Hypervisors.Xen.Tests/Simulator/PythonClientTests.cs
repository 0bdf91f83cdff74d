using System.Diagnostics;
using Hypervisors.Testing;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Simulator;

/// <summary>
/// Python's standard xmlrpc.client, an XML-RPC implementation independent of the project's codec, drives the
/// simulator through a session, a VM life cycle, Async tasks with event.from and illegal calls, checking the
/// envelopes byte for byte (python/xenapi_wire_check.py).
/// </summary>
public sealed class PythonClientTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Python_xmlrpc_client_agrees_with_the_simulator(bool guestsHavePvDrivers)
    {
        var python = FindOnPath("python3");
        ExternalParts.Require(python is not null, "python3");
        await using var simulator = await XenApiSimulatorHost.StartAsync(new XenApiSimulatorOptions { GuestsHavePvDrivers = guestsHavePvDrivers },
            cancellationToken: TestContext.Current.CancellationToken);
        var script = Path.Combine(AppContext.BaseDirectory, "python", "xenapi_wire_check.py");
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
        start.ArgumentList.Add(guestsHavePvDrivers ? "with-pv-drivers" : "without-pv-drivers");
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
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
