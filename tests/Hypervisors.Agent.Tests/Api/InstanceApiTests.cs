using System.Net;
using System.Net.Http.Json;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Fake;

namespace Hypervisors.Agent.Tests.Api;

public sealed class InstanceApiTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_fresh_agent_hosts_the_in_memory_fake_on_loopback()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;

        var drivers = await agent.Client.GetDriversAsync(ct);
        var host = await agent.Client.GetHostAsync("local", ct);

        Assert.Equal("local", Assert.Single(drivers).Name);
        Assert.Equal("Fake", host.Capabilities.HypervisorType);
        Assert.True(host.Host.MemoryMiBFree > 0);
        Assert.Equal("127.0.0.1", agent.BaseAddress.Host);
        Assert.True(File.Exists(Path.Combine(agent.DataDirectory, "journal.db")));
    }

    [Fact]
    public async Task Every_action_runs_as_an_operation_and_leaves_the_state_the_contract_promises()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();

        var create = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("life-1"), Wait, ct);
        Assert.Equal(OperationState.Succeeded, create.State);
        Assert.Equal(id, create.ResultAs<InstanceInfo>()!.Id);

        async Task ExpectAsync(string action, PowerState expected, TimeSpan? timeout = null, RebootKind? kind = null)
        {
            var operation = await agent.Client.RunActionAsync("local", id, action, Wait, timeout, kind, cancellationToken: ct);
            Assert.True(operation.State == OperationState.Succeeded, $"{action}: {operation.Error?.Detail}");
            Assert.Equal(action, operation.Kind);
            Assert.Equal(expected, (await agent.Client.GetInstanceAsync("local", id, ct)).PowerState);
        }

        await ExpectAsync("start", PowerState.Running);
        await ExpectAsync("reboot", PowerState.Running, kind: RebootKind.Soft);
        await ExpectAsync("reboot", PowerState.Running, kind: RebootKind.Hard);
        await ExpectAsync("pause", PowerState.Paused);
        await ExpectAsync("unpause", PowerState.Running);
        await ExpectAsync("suspend", PowerState.Suspended);
        await ExpectAsync("resume", PowerState.Running);
        await ExpectAsync("stop", PowerState.Shutdown, timeout: TimeSpan.FromSeconds(5));

        var console = await agent.Client.GetConsoleOutputAsync("local", id, ct);
        Assert.NotNull(console.Text);

        var delete = await agent.Client.DeleteInstanceAsync("local", id, Wait, cancellationToken: ct);
        Assert.Equal(OperationState.Succeeded, delete.State);
        var missing = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.GetInstanceAsync("local", id, ct));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal(HypervisorErrorKind.NotFound, missing.Problem.Kind);
    }

    [Fact]
    public async Task Volumes_and_interfaces_attach_and_detach_through_operations()
    {
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string> { ["Agent:Drivers:local:AllowedHostDirectories:0"] = "/dev/vg0" });
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("dev-1"), Wait, ct);

        var attachVolume = await agent.Client.AttachVolumeAsync("local", id, new VolumeSpec("vol-1", "/dev/vg0/vol-1"), Wait, cancellationToken: ct);
        var attachNic = await agent.Client.AttachInterfaceAsync("local", id, new NetworkInterfaceSpec("default", "52:54:00:aa:bb:01"), Wait, cancellationToken: ct);
        var devices = await agent.Client.GetDevicesAsync("local", id, ct);

        Assert.Equal("vol-1", attachVolume.ResultAs<VolumeAttachment>()!.VolumeId);
        Assert.Equal("52:54:00:aa:bb:01", attachNic.ResultAs<NetworkInterfaceInfo>()!.MacAddress);
        Assert.Contains(devices.Volumes, v => v.VolumeId == "vol-1");
        Assert.Contains(devices.NetworkInterfaces, n => n.MacAddress == "52:54:00:aa:bb:01");

        Assert.Equal(OperationState.Succeeded, (await agent.Client.DetachVolumeAsync("local", id, "vol-1", Wait, cancellationToken: ct)).State);
        Assert.Equal(OperationState.Succeeded, (await agent.Client.DetachInterfaceAsync("local", id, "52:54:00:AA:BB:01", Wait, cancellationToken: ct)).State);
        devices = await agent.Client.GetDevicesAsync("local", id, ct);
        Assert.Empty(devices.Volumes);
        Assert.DoesNotContain(devices.NetworkInterfaces, n => n.MacAddress == "52:54:00:aa:bb:01");

        var again = await agent.Client.DetachVolumeAsync("local", id, "vol-1", Wait, cancellationToken: ct);
        Assert.Equal(OperationState.Failed, again.State);
        Assert.Equal(HypervisorErrorKind.DeviceNotFound, again.Error!.Kind);
    }

    [Fact]
    public async Task A_mutating_call_answers_202_with_a_location_that_can_be_polled()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        agent.Driver().GetService<FakeFaults>()!.SetLatency(InstanceOperation.Create, TimeSpan.FromMilliseconds(300));
        var id = Guid.NewGuid();

        using var response = await agent.Http.PutAsJsonAsync($"/v1/drivers/local/instances/{id}", Specs.Small("poll-1"), AgentJson.Options, ct);
        var accepted = await response.Content.ReadFromJsonAsync<OperationResource>(AgentJson.Options, ct);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(OperationState.Pending, accepted!.State);
        Assert.Equal($"/v1/operations/{accepted.Id}", response.Headers.Location!.ToString());
        var final = await agent.Client.WaitForOperationAsync(accepted, ct);
        Assert.Equal(OperationState.Succeeded, final.State);
        Assert.Equal(accepted.Id, final.Id);
    }

    [Fact]
    public async Task A_repeated_create_returns_the_same_operation_and_instance_and_a_different_spec_is_refused()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();

        var first = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("same-1"), Wait, ct);
        var repeat = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("same-1"), Wait, ct);
        var conflict = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.CreateInstanceAsync("local", id, Specs.Small("same-1", vcpus: 2), Wait, ct));

        Assert.Equal(first.Id, repeat.Id);
        Assert.Equal(first.ResultAs<InstanceInfo>()!.NativeId, repeat.ResultAs<InstanceInfo>()!.NativeId);
        Assert.Single(await agent.Client.ListInstancesAsync("local", ct));
        Assert.Equal(409, conflict.StatusCode);
        Assert.Equal(HypervisorErrorKind.AlreadyExists, conflict.Problem.Kind);
        Assert.False(conflict.Retryable);
    }

    [Fact]
    public async Task A_create_that_failed_transiently_is_retryable_and_the_retry_with_the_same_id_creates_it()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        agent.Driver().GetService<FakeFaults>()!.FailNext(InstanceOperation.Create, () => new HypervisorUnavailableException("libvirtd restarting"));
        var id = Guid.NewGuid();

        var failed = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("retry-1"), Wait, ct);
        var retried = await agent.Client.CreateInstanceAsync("local", id, Specs.Small("retry-1"), Wait, ct);

        Assert.Equal(OperationState.Failed, failed.State);
        Assert.Equal(HypervisorErrorKind.Unavailable, failed.Error!.Kind);
        Assert.True(failed.Error.Retryable);
        Assert.Equal(503, failed.Error.Status);
        Assert.Equal(OperationState.Succeeded, retried.State);
        Assert.NotEqual(failed.Id, retried.Id);
        Assert.Equal(id, Assert.Single(await agent.Client.ListInstancesAsync("local", ct)).Id);
    }

    [Fact]
    public async Task An_idempotency_key_makes_a_repeated_action_return_the_first_operation()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        var id = Guid.NewGuid();
        await agent.Client.CreateInstanceAsync("local", id, Specs.Small("key-1"), Wait, ct);

        var first = await agent.Client.RunActionAsync("local", id, "start", Wait, idempotencyKey: "start-key-1", cancellationToken: ct);
        var repeat = await agent.Client.RunActionAsync("local", id, "start", Wait, idempotencyKey: "start-key-1", cancellationToken: ct);
        var unkeyed = await agent.Client.RunActionAsync("local", id, "start", Wait, cancellationToken: ct);

        Assert.Equal(OperationState.Succeeded, first.State);
        Assert.Equal(first.Id, repeat.Id);
        Assert.Equal(OperationState.Succeeded, repeat.State);
        Assert.Equal(OperationState.Failed, unkeyed.State);
        Assert.Equal(HypervisorErrorKind.InvalidPowerState, unkeyed.Error!.Kind);
        Assert.Equal(409, unkeyed.Error.Status);
        Assert.False(unkeyed.Error.Retryable);
    }

    [Fact]
    public async Task The_instance_list_is_written_exactly_as_the_wire_serializer_would_write_it()
    {
        await using var agent = await TestAgent.StartAsync();
        var ct = TestContext.Current.CancellationToken;
        for (var i = 0; i < 3; i++)
        {
            await agent.Client.CreateInstanceAsync("local", Guid.NewGuid(), Specs.Small($"wire-{i}") with
            {
                Metadata = new Dictionary<string, string> { ["quote\"key"] = "caf\u00e9 <b>&", ["n"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            }, Wait, ct);
        }

        var written = await agent.Http.GetStringAsync("/v1/drivers/local/instances", ct);
        var expected = System.Text.Json.JsonSerializer.Serialize(await agent.Driver().ListInstancesAsync(ct), AgentJson.Options);

        Assert.Equal(expected, written);
    }

    [Fact]
    public async Task A_config_file_names_the_drivers_and_the_command_line_still_wins()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """
                { "Agent": { "Drivers": { "rack1": { "Kind": "fake", "HostName": "from-file" }, "rack2": { "Kind": "fake" } } } }
                """, TestContext.Current.CancellationToken);
            await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>
            {
                ["Agent:ConfigFile"] = file,
                ["Agent:Drivers:rack2:HostName"] = "from-command-line",
            });
            var ct = TestContext.Current.CancellationToken;

            var drivers = await agent.Client.GetDriversAsync(ct);

            Assert.Equal(["rack1", "rack2"], drivers.Select(d => d.Name));
            Assert.Equal("from-file", (await agent.Client.GetHostAsync("rack1", ct)).Host.HostName);
            Assert.Equal("from-command-line", (await agent.Client.GetHostAsync("rack2", ct)).Host.HostName);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
