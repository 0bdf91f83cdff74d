using System.Xml.Linq;
using Hypervisors.Testing;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// Debian's <c>wsl</c> (Dell's "Wsman Shell commandLine": bash, curl and xmllint), a WS-Management client the project
/// did not write, against the simulator on a loopback port: it enumerates the VMs with a WQL filter (pulling one item
/// at a time), enumerates one VM's endpoint reference, invokes RequestStateChange on it, and reads the job until done.
/// </summary>
public sealed class WslClientTests
{
    private const string Wql = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
    private const string V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/";
    private static readonly XNamespace Wsman = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";

    [Fact]
    public async Task Wsl_enumerates_the_vms_invokes_RequestStateChange_and_sees_the_job_complete()
    {
        ExternalParts.Require(File.Exists("/usr/bin/wsl") && File.Exists("/usr/bin/uuidgen"), "wsl (Debian packages wsl and uuid-runtime)");
        await using var server = await HyperVSimulatorServer.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        server.Host.AddVirtualMachine("wsl-vm1");
        server.Host.AddVirtualMachine("wsl-vm2");
        server.Host.AddVirtualMachine("wsl-vm3", enabledState: 2);
        var directory = Directory.CreateTempSubdirectory("hyperv-wsl-");
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["HOME"] = directory.FullName,
                ["WSENDPOINT"] = "127.0.0.1:" + server.Endpoint.Port,
                ["WSUSER"] = server.Host.Options.UserName,
                ["WSPASS"] = server.Host.Options.Password,
                ["WSNOSSL"] = "true",
                ["OUTLEVEL"] = "1",
            };

            async Task<string> Wsl(params string[] arguments)
            {
                var (exit, stdout, stderr) = await ExternalProcess.RunAsync("/usr/bin/wsl", arguments, directory.FullName, environment, TimeSpan.FromSeconds(60));
                Assert.True(exit == 0, $"wsl {string.Join(' ', arguments)} exited {exit}: {stdout} {stderr}");
                return stdout;
            }

            // Enumerate with a WQL filter, one item per Pull.
            var listing = await Wsl("enum", V2 + "*", "-dialect", Wql, "-opti", "1", "-filter", "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'");
            Assert.Contains("wsl-vm1", listing, StringComparison.Ordinal);
            Assert.Contains("wsl-vm2", listing, StringComparison.Ordinal);
            Assert.Contains("wsl-vm3", listing, StringComparison.Ordinal);
            Assert.DoesNotContain("Hosting Computer System", listing, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(directory.FullName, "request-3.xml")), "wsl should have pulled after the first item.");

            // The VM's endpoint reference, then RequestStateChange(2) through it.
            await Wsl("enum", V2 + "Msvm_ComputerSystem", "-mode", "epr", "-dialect", Wql, "-filter", "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'wsl-vm1'");
            File.Copy(Path.Combine(directory.FullName, "response.xml"), Path.Combine(directory.FullName, "vm1-epr.xml"));
            await Wsl("invoke", V2 + "Msvm_ComputerSystem", "RequestStateChange", "RequestedState=2", "-inst", "vm1-epr.xml");
            var output = XDocument.Load(Path.Combine(directory.FullName, "response.xml"));
            Assert.Equal("4096", output.Descendants().Single(e => e.Name.LocalName == "ReturnValue").Value);
            var jobId = output.Descendants(Wsman + "Selector").Single(s => (string?)s.Attribute("Name") == "InstanceID").Value;

            // Read the job until it leaves Running.
            string? jobState = null;
            for (var i = 0; i < 100; i++)
            {
                await Wsl("get", V2 + "Msvm_ConcreteJob", "InstanceID=" + jobId);
                var job = XDocument.Load(Path.Combine(directory.FullName, "response.xml"));
                jobState = job.Descendants().Single(e => e.Name.LocalName == "JobState").Value;
                if (jobState != "4")
                {
                    break;
                }

                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            Assert.Equal("7", jobState);
            Assert.Equal(2, server.Host.EnabledStateOf("wsl-vm1"));
            Assert.Equal(3, server.Host.EnabledStateOf("wsl-vm2"));

            // A running VM cannot be started again: Hyper-V's 32775 (invalid state), seen by wsl.
            await Wsl("invoke", V2 + "Msvm_ComputerSystem", "RequestStateChange", "RequestedState=2", "-inst", "vm1-epr.xml");
            output = XDocument.Load(Path.Combine(directory.FullName, "response.xml"));
            Assert.Equal("32775", output.Descendants().Single(e => e.Name.LocalName == "ReturnValue").Value);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
