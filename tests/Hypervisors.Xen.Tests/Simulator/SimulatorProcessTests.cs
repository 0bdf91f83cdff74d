using System.Diagnostics;
using Hypervisors.Xen.Wire;
using Hypervisors.Testing;
using Hypervisors.Xen.Session;

namespace Hypervisors.Xen.Tests.Simulator;

/// <summary>The simulator also runs as its own process on a loopback port, writing its URL to a file.</summary>
public sealed class SimulatorProcessTests
{
    [Fact]
    public async Task The_simulator_runs_as_a_process_and_serves_XenAPI_on_loopback()
    {
        var ct = TestContext.Current.CancellationToken;
        var urlFile = Path.Combine(Path.GetTempPath(), $"xen-sim-{Guid.NewGuid():N}.url");
        var start = new ProcessStartInfo(Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? Environment.ProcessPath : "dotnet")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "XenApiSimulator.dll"));
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add("0");
        start.ArgumentList.Add("--url-file");
        start.ArgumentList.Add(urlFile);
        using var process = Process.Start(start)!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(ct).AsTask().WaitAsync(TimeSpan.FromSeconds(60), ct);
            var url = new Uri(line!.Trim());
            Assert.Equal("127.0.0.1", url.Host);
            Assert.Equal(url.ToString(), await File.ReadAllTextAsync(urlFile, ct));

            using var http = new HttpClient();
            using var rpc = new XenApiRpcClient(url, XenApiTransport.JsonRpc, http, TimeSpan.FromSeconds(30));
            await using var session = new XenApiSession(rpc, _ => ValueTask.FromResult(new XenCredentials("root", "xenroot")), "process-test");
            var hosts = XenValue.ToStringArray(await session.CallAsync("host.get_all", ct));
            Assert.Single(hosts);
            Assert.Equal(1, session.LoginCount);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(ct);
            File.Delete(urlFile);
        }
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public Task The_simulator_process_exits_with_code_0_within_5_s_of_a_signal(string signal) =>
        ProcessSignals.AssertStopsCleanlyAsync(ProcessSignals.StartInfo("dotnet", Path.Combine(AppContext.BaseDirectory, "XenApiSimulator.dll"), "--port", "0"),
            "http://127.0.0.1:", signal, whileRunning: null, TestContext.Current.CancellationToken);
}
