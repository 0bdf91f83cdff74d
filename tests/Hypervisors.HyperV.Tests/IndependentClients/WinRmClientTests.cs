using System.Text.Json;
using Hypervisors.Testing;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// Debian's pywinrm (python3-winrm), a WS-Management client the project did not write: its Protocol posts raw WS-Man
/// envelopes (built with xmltodict, as pywinrm builds its own) with Basic auth. It enumerates with Pull, invokes
/// RequestStateChange, polls the job with Get, and is refused with a wrong password.
/// </summary>
public sealed class WinRmClientTests
{
    [Fact]
    public async Task Pywinrm_enumerates_the_vms_invokes_RequestStateChange_and_sees_the_job_complete()
    {
        ExternalParts.Require(await PywinrmAvailableAsync(), "python3-winrm (Debian package, for /usr/bin/python3)");
        await using var server = await HyperVSimulatorServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        server.Host.AddVirtualMachine("py-vm1");
        server.Host.AddVirtualMachine("py-vm2");
        server.Host.AddVirtualMachine("py-vm3", enabledState: 9);
        var script = Path.Combine(AppContext.BaseDirectory, "IndependentClients", "winrm_check.py");
        var (exit, stdout, stderr) = await ExternalProcess.RunAsync("/usr/bin/python3",
            [script, server.Endpoint.AbsoluteUri, server.Host.Options.UserName, server.Host.Options.Password, "py-vm2"],
            AppContext.BaseDirectory, new Dictionary<string, string>(), TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"winrm_check.py exited {exit}: {stdout} {stderr}");

        using var result = JsonDocument.Parse(stdout);
        var root = result.RootElement;
        Assert.Equal(["py-vm1", "py-vm2", "py-vm3"], root.GetProperty("vms").EnumerateArray().Select(v => v.GetString()));
        Assert.True(root.GetProperty("pulls").GetInt32() >= 1, "Three VMs at two per batch need a Pull.");
        Assert.Equal("4096", root.GetProperty("returnValue").GetString());
        Assert.EndsWith("/root/virtualization/v2/Msvm_ConcreteJob", root.GetProperty("jobResource").GetString(), StringComparison.Ordinal);
        Assert.Equal("7", root.GetProperty("jobState").GetString());
        Assert.Equal("2", root.GetProperty("stateAfter").GetString());
        Assert.True(root.GetProperty("wrongPasswordRefused").GetBoolean());
        Assert.Equal(2, server.Host.EnabledStateOf("py-vm2"));
        Assert.Equal(3, server.Host.EnabledStateOf("py-vm1"));
    }

    [Fact]
    public async Task Pywinrm_creates_a_differencing_disk_on_a_parent_in_a_share_and_is_refused_one_on_a_missing_parent()
    {
        ExternalParts.Require(await PywinrmAvailableAsync(), "python3-winrm (Debian package, for /usr/bin/python3)");
        var share = Directory.CreateTempSubdirectory("hv-hyperv-winrm-share-");
        try
        {
            var content = new byte[128 * 1024];
            "vhdxfile"u8.CopyTo(content);
            await File.WriteAllBytesAsync(Path.Combine(share.FullName, "base.vhdx"), content, TestContext.Current.CancellationToken);
            await using var server = await HyperVFixture.StartWithShareAsync(share.FullName, TestContext.Current.CancellationToken);
            var script = Path.Combine(AppContext.BaseDirectory, "IndependentClients", "winrm_vhd_check.py");
            var (exit, stdout, stderr) = await ExternalProcess.RunAsync("/usr/bin/python3",
                [script, server.Endpoint.AbsoluteUri, server.Host.Options.UserName, server.Host.Options.Password,
                    HyperVFixture.ShareHostPath + @"\base.vhdx", HyperVFixture.ShareHostPath + @"\missing.vhdx", @"C:\Disks\ok.vhdx", @"C:\Disks\refused.vhdx"],
                AppContext.BaseDirectory, new Dictionary<string, string>(), TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"winrm_vhd_check.py exited {exit}: {stdout} {stderr}");

            using var result = JsonDocument.Parse(stdout);
            var root = result.RootElement;
            var ok = root.GetProperty("ok");
            Assert.Equal(("4096", "7", "0", true), (ok.GetProperty("returnValue").GetString(), ok.GetProperty("jobState").GetString(),
                ok.GetProperty("errorCode").GetString(), ok.GetProperty("exists").GetBoolean()));
            var refused = root.GetProperty("refused");
            Assert.Equal(("4096", "10", "32779", false), (refused.GetProperty("returnValue").GetString(), refused.GetProperty("jobState").GetString(),
                refused.GetProperty("errorCode").GetString(), refused.GetProperty("exists").GetBoolean()));
            Assert.Equal((128 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), root.GetProperty("parentSize").GetString());
            Assert.True(server.Host.FileExists(@"C:\Disks\ok.vhdx"));
            Assert.False(server.Host.FileExists(@"C:\Disks\refused.vhdx"));
        }
        finally
        {
            share.Delete(recursive: true);
        }
    }

    private static async Task<bool> PywinrmAvailableAsync()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }

        var (exit, _, _) = await ExternalProcess.RunAsync("/usr/bin/python3", ["-c", "import winrm.protocol, xmltodict"], AppContext.BaseDirectory,
            new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
        return exit == 0;
    }
}
