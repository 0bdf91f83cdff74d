using System.Net;
using System.Net.Http.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Hardening;

/// <summary>Issue 12 item 1: no host file outside the allowed directories becomes a disk, kernel, initrd or volume.</summary>
public sealed class HostPathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, AgentProblem Problem)> PutAsync(TestAgent agent, object body)
    {
        using var response = await agent.Http.PutAsJsonAsync($"/v1/drivers/local/instances/{Guid.NewGuid()}", body, AgentJson.Options, Ct);
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, Ct))!);
    }

    [Theory]
    [InlineData("/etc/shadow")]
    [InlineData("../../etc/shadow")]
    [InlineData("/etc/no-such-file-here")]
    public async Task An_image_outside_the_allowed_directories_is_refused_before_anything_is_journaled(string imageRef)
    {
        var allowed = Directory.CreateTempSubdirectory("hv-agent-images-");
        try
        {
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:AllowedHostDirectories:0"] = allowed.FullName });

            var (status, problem) = await PutAsync(agent, Specs.Small("shadow") with { Disks = [new DiskSpec(1, imageRef)] });

            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("disks[0].imageRef", problem.Field);
            // The same words whether or not the file exists.
            Assert.Equal("disks[0].imageRef: " + HostPathPolicy.Refusal("x").Message.Split(": ", 2)[1], problem.Detail);
            Assert.DoesNotContain(imageRef, problem.Detail, StringComparison.Ordinal);
            Assert.Empty(agent.Service<OperationJournal>().CountByState());
            Assert.Empty(await agent.Client.ListInstancesAsync("local", Ct));
        }
        finally
        {
            allowed.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Kernels_initrds_and_volumes_are_held_to_the_same_directories_and_allowed_files_work()
    {
        var allowed = Directory.CreateTempSubdirectory("hv-agent-images-");
        try
        {
            var kernel = Path.Combine(allowed.FullName, "vmlinuz");
            await File.WriteAllTextAsync(kernel, "kernel", Ct);
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:AllowedHostDirectories:0"] = allowed.FullName });

            var badKernel = await PutAsync(agent, Specs.Small("k1") with { KernelBoot = new KernelBootSpec("/boot/../etc/shadow") });
            var badInitrd = await PutAsync(agent, Specs.Small("k2") with { KernelBoot = new KernelBootSpec(kernel, "/etc/shadow") });
            var id = Guid.NewGuid();
            var created = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("k3") with { KernelBoot = new KernelBootSpec(kernel), Disks = [new DiskSpec(1, kernel)] }, TimeSpan.FromSeconds(30), Ct);
            using var volume = await agent.Http.PostAsJsonAsync($"/v1/drivers/local/instances/{id}/volumes", new VolumeSpec("v", "/etc/shadow"), AgentJson.Options, Ct);
            var volumeProblem = await volume.Content.ReadFromJsonAsync<AgentProblem>(AgentJson.Options, Ct);

            Assert.Equal((HttpStatusCode.BadRequest, "kernelBoot.kernelPath"), (badKernel.Status, badKernel.Problem.Field));
            Assert.Equal((HttpStatusCode.BadRequest, "kernelBoot.initrdPath"), (badInitrd.Status, badInitrd.Problem.Field));
            Assert.Equal(OperationState.Succeeded, created.State);
            Assert.Equal(HttpStatusCode.BadRequest, volume.StatusCode);
            Assert.Equal("source", volumeProblem!.Field);
            Assert.Empty((await agent.Client.GetDevicesAsync("local", id, Ct)).Volumes);
            Assert.Equal(1, agent.Service<OperationJournal>().CountByState().Values.Sum());
        }
        finally
        {
            allowed.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_allowed_directories_no_host_file_is_accepted()
    {
        await using var agent = await TestAgent.StartAsync();

        var (status, problem) = await PutAsync(agent, Specs.Small("none") with { Disks = [new DiskSpec(1, "/var/lib/images/debian.qcow2")] });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("disks[0].imageRef", problem.Field);
    }
}
