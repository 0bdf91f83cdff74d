using System.Net;
using System.Net.Http.Json;
using System.Text;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Hosting;
using Hypervisors.Images.Tests.Ovf;
using Hypervisors.Images.Tests.Support;
using Hypervisors.Libvirt;
using Hypervisors.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Images.Tests.Agent;

/// <summary>
/// The agent with a libvirt driver on libvirtd/QEMU, an image cache and the CI glance-api configured (as README
/// shows): an instance created from <c>glance:&lt;id&gt;</c> boots and prints the guest's marker; an OVA imported
/// through <c>POST /v1/drivers/{driver}/imports</c> becomes an instance; the cache is listed over the API.
/// </summary>
[Collection(LibvirtdImagesCollection.Name)]
public sealed class AgentImageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_agent_boots_an_instance_from_a_glance_image_and_imports_an_ova()
    {
        ExternalParts.Require(
            LibvirtDriver.IsLibvirtAvailable() && File.Exists("/var/run/libvirt/libvirt-sock") && File.Exists(CiLibvirt.BootDisk),
            "libvirtd with QEMU and the bootable CI guest disk (.ci/setup/20-libvirt.sh, 25-glance.sh)");
        await using var glance = await CiGlance.ConnectAsync(Ct);
        var image = await glance.UploadAsync(CiLibvirt.BootDisk, "qcow2", Ct);
        var root = Path.Combine("/var/lib/hypervisors-ci", "image-tests", Guid.NewGuid().ToString("N")[..12]);
        var packages = Directory.CreateDirectory(Path.Combine(root, "packages")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(packages, "small.ova"), await SmallOvaAsync(), Ct);
        string[] args =
        [
            "--Agent:Listen:0=http://127.0.0.1:0",
            $"--Agent:DataDirectory={Path.Combine(root, "data")}",
            "--Agent:PowerSyncInterval=01:00:00",
            "--Agent:Drivers:kvm:Kind=libvirt",
            "--Agent:Drivers:kvm:Uri=qemu:///system",
            "--Agent:Drivers:kvm:DomainType=qemu",
            "--Agent:Drivers:kvm:MachineType=pc",
            $"--Agent:Drivers:kvm:InstanceDirectory={Path.Combine(root, "instances")}",
            $"--Agent:Images:CacheDirectory={Path.Combine(root, "cache")}",
            $"--Agent:Images:GlanceEndpoint={CiGlance.Endpoint}",
            $"--Agent:Images:AllowedImageDirectories:0={packages}",
            "--Agent:Images:MinimumFreeBytes=0",
        ];
        var app = AgentApplication.Build(args, builder => builder.Logging.ClearProviders());
        await app.StartAsync(Ct);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(3) };
        var client = new AgentClient(http);
        var created = new List<Guid>();
        try
        {
            // hvctl create --image glance:<id>: the agent fetches, verifies and caches the image, then boots from it.
            var id = Guid.NewGuid();
            created.Add(id);
            var (code, output, error) = await HvctlAsync(http.BaseAddress!, "create", id.ToString(), "-d", "kvm", "-n", "agent-glance-" + id.ToString("N")[..8],
                "--memory", "256", "--image", "glance:" + image.Id, "--start", "--json");
            Assert.True(code == 0, output + error);
            Assert.Contains("\"succeeded\"", output, StringComparison.OrdinalIgnoreCase);
            await WaitForMarkerAsync(client, id);

            var cached = await http.GetFromJsonAsync<List<CachedImageView>>("/v1/images", Ct);
            var entry = Assert.Single(cached!);
            Assert.Equal($"sha512-{image.OsHashValue}.qcow2", entry.Name);
            Assert.Equal([id], entry.Instances);
            using (var inUse = await http.DeleteAsync(new Uri("/v1/images/" + entry.Name, UriKind.Relative), Ct))
            {
                Assert.Equal(HttpStatusCode.BadRequest, inUse.StatusCode);
            }

            // hvctl import: POST /v1/drivers/kvm/imports, one create per VirtualSystem.
            (code, output, error) = await HvctlAsync(http.BaseAddress!, "import", "small.ova", "-d", "kvm", "--name-prefix", "agent-ova-" + id.ToString("N")[..6] + "-", "--json");
            Assert.True(code == 0, output + error);
            using var importedJson = System.Text.Json.JsonDocument.Parse(output);
            var imported = Assert.Single(importedJson.RootElement.EnumerateArray());
            var importedId = imported.GetProperty("instanceId").GetGuid();
            created.Add(importedId);
            Assert.Equal("Succeeded", imported.GetProperty("state").GetString(), StringComparer.OrdinalIgnoreCase);
            var instance = await client.GetInstanceAsync("kvm", importedId, Ct);
            Assert.Equal((1, 128L), (instance.VCpus, instance.MemoryMiB));

            using var refused = await http.PostAsJsonAsync("/v1/drivers/kvm/imports", new ImportRequest { Package = "/etc/passwd" }, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }
        finally
        {
            foreach (var id in created)
            {
                try
                {
                    await client.WaitForOperationAsync(await client.DeleteInstanceAsync("kvm", id, cancellationToken: CancellationToken.None), CancellationToken.None);
                }
                catch (AgentApiException)
                {
                }
            }

            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(int Code, string Output, string Error)> HvctlAsync(Uri agent, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(output) });
        var code = await Hypervisors.Hvctl.HvctlApp.RunAsync(["--url", agent.ToString(), .. args], new Hypervisors.Hvctl.HvctlOutput(console, output, error), cancellationToken: Ct);
        return (code, output.ToString(), error.ToString());
    }

    private static async Task<byte[]> SmallOvaAsync()
    {
        using var files = new ImageFiles();
        var vmdk = files.PathOf("d.vmdk");
        ImageFiles.QemuImg("create", "-q", "-f", "vmdk", "-o", "subformat=streamOptimized", vmdk, "16M");
        var disk = await File.ReadAllBytesAsync(vmdk, Ct);
        var descriptor = OvfSamples.Single("small", "small-disk1.vmdk", disk.Length, 16L << 20).Replace(">256<", ">128<", StringComparison.Ordinal);
        return await OvfSamples.OvaAsync([("small.ovf", Encoding.UTF8.GetBytes(descriptor)), ("small-disk1.vmdk", disk)]);
    }

    private static async Task WaitForMarkerAsync(AgentClient client, Guid id)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(4));
        var text = string.Empty;
        try
        {
            while (!text.Contains(CiLibvirt.Marker, StringComparison.Ordinal))
            {
                await Task.Delay(500, timeout.Token);
                text = (await client.GetConsoleOutputAsync("kvm", id, timeout.Token)).Text;
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"No boot marker. Console tail:\n{text[Math.Max(0, text.Length - 2000)..]}");
        }
    }

    private sealed record CachedImageView(string Name, string Format, List<Guid> Instances);
}
