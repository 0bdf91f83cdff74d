using System.Diagnostics;
using System.Net;
using Hypervisors.Testing;

namespace Hypervisors.HyperV.Tests;

/// <summary>The simulator also runs as its own process on a loopback port, announcing its URL in a file.</summary>
public sealed class SimulatorProcessTests
{
    [Fact]
    public async Task The_simulator_runs_as_its_own_process_and_the_driver_drives_it()
    {
        var ct = TestContext.Current.CancellationToken;
        var urlFile = Path.Combine(Path.GetTempPath(), "hyperv-sim-" + Guid.NewGuid().ToString("N") + ".url");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Path.Combine(AppContext.BaseDirectory, "HyperVSimulator.dll"), "--port", "0", "--url-file", urlFile, "--user", "ops", "--password", "s3cret-Pw" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        try
        {
            var waited = Stopwatch.StartNew();
            while (!File.Exists(urlFile) || (await File.ReadAllTextAsync(urlFile, ct)).Trim().Length == 0)
            {
                if (process.HasExited)
                {
                    Assert.Fail("The simulator exited: " + await process.StandardError.ReadToEndAsync(ct));
                }

                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "The simulator did not write its URL within 60 s.");
                await Task.Delay(100, ct);
            }

            var endpoint = new Uri((await File.ReadAllTextAsync(urlFile, ct)).Trim());
            Assert.Equal("127.0.0.1", endpoint.Host);
            await using var driver = new HyperVDriver(new HyperVDriverOptions
            {
                Url = endpoint,
                UserName = "ops",
                Password = "s3cret-Pw",
                JobPollInterval = TimeSpan.FromMilliseconds(50),
            });
            var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "out-of-process", VCpus = 1, MemoryMiB = 64, StartAfterCreate = true };
            var created = await driver.CreateInstanceAsync(spec, ct);
            Assert.Equal(PowerState.Running, created.PowerState);
            Assert.Equal([spec.Id], (await driver.ListInstancesAsync(ct)).Select(i => i.Id));
            await driver.DeleteInstanceAsync(spec.Id, ct);
            Assert.Empty(await driver.ListInstancesAsync(ct));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
            File.Delete(urlFile);
        }
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public Task The_simulator_process_exits_with_code_0_within_5_s_of_a_signal(string signal) =>
        ProcessSignals.AssertStopsCleanlyAsync(ProcessSignals.StartInfo("dotnet", Path.Combine(AppContext.BaseDirectory, "HyperVSimulator.dll"), "--port", "0"),
            "Hyper-V simulator listening on http://127.0.0.1:", signal, whileRunning: null, TestContext.Current.CancellationToken);
}
