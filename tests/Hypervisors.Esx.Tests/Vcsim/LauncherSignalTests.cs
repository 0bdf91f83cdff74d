using System.Net;
using Hypervisors.Testing;

namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary>The vcsim launcher (fakes/vcsim) stops on SIGTERM and SIGINT, removing the model's temporary files.</summary>
public sealed class LauncherSignalTests
{
    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task The_launcher_exits_with_code_0_within_5_s_of_a_signal_and_removes_its_datastore(string signal)
    {
        ExternalParts.Require(VcsimServer.IsAvailable, "vcsim (fakes/vcsim/vcsim-launcher, built by .ci/setup/30-vcsim.sh)");
        string? datastoreDirectory = null;
        await ProcessSignals.AssertStopsCleanlyAsync(ProcessSignals.StartInfo(VcsimServer.LauncherPath, "-port", "0"), "url=", signal, line =>
        {
            datastoreDirectory = WebUtility.UrlDecode(line.Split(' ').Select(p => p.Split('=', 2)).Single(p => p[0] == "dsdir")[1]);
            Assert.True(Directory.Exists(datastoreDirectory), $"The datastore directory {datastoreDirectory} does not exist while the launcher runs.");
            return Task.CompletedTask;
        }, TestContext.Current.CancellationToken);
        Assert.False(Directory.Exists(datastoreDirectory), $"The launcher left {datastoreDirectory} behind after SIG{signal}.");
    }
}
