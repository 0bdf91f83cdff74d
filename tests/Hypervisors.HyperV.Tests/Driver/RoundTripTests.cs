using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// The round trips of each operation, counted by the simulator, as the table in the driver's README states them. A
/// change that adds a WS-Man call to an operation fails here. Jobs finish at once (JobDuration zero), so every job
/// takes exactly one poll (Get).
/// </summary>
public sealed class RoundTripTests : IAsyncLifetime
{
    private HyperVSimulatorServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        _server.Host.Behavior.JobDuration = TimeSpan.Zero;
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static InstanceSpec Spec(string name) => new() { Id = Guid.NewGuid(), Name = name, VCpus = 1, MemoryMiB = 64 };

    private async Task<Dictionary<string, int>> CountAsync(Func<Task> operation)
    {
        _server.Host.Behavior.ResetRequestCounts();
        await operation();
        return _server.Host.Behavior.RequestCounts.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    private static Dictionary<string, int> Calls(params (string Action, int Count)[] calls) =>
        calls.OrderBy(c => c.Action, StringComparer.Ordinal).ToDictionary(c => c.Action, c => c.Count, StringComparer.Ordinal);

    [Fact]
    public async Task The_lifecycle_sends_eleven_requests_per_instance_once_the_driver_is_warm()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));

        // Cold: the index (4 enumerations) and the management service (1) are read once, by the first create.
        var first = Spec("first");
        Assert.Equal(Calls(("Enumerate", 6), ("DefineSystem", 1), ("ModifyResourceSettings", 1), ("Get", 2)),
            await CountAsync(() => driver.CreateInstanceAsync(first, Ct)));

        var spec = Spec("counted");
        InstanceInfo? created = null;
        Assert.Equal(Calls(("Enumerate", 1), ("DefineSystem", 1), ("ModifyResourceSettings", 1), ("Get", 2)),
            await CountAsync(async () => created = await driver.CreateInstanceAsync(spec, Ct)));
        Assert.Equal((PowerState.Shutdown, 1, 64L, "counted"), (created!.PowerState, created.VCpus, created.MemoryMiB, created.Name));
        Assert.NotNull(created.NativeId);

        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.StartInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("Enumerate", 4)), await CountAsync(() => driver.ListInstancesAsync(Ct)));
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.PowerOffInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("DestroySystem", 1), ("Get", 1)), await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));

        // What the created instance's info said matches what Hyper-V holds.
        var listed = Assert.Single(await driver.ListInstancesAsync(Ct));
        Assert.Equal((first.Id, PowerState.Shutdown, 1, 64L), (listed.Id, listed.PowerState, listed.VCpus, listed.MemoryMiB));
    }

    [Fact]
    public async Task Refused_transitions_cost_one_state_read_and_a_running_vm_is_turned_off_before_destroy()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var spec = Spec("refusals");
        await driver.CreateInstanceAsync(spec, Ct);
        await driver.StartInstanceAsync(spec.Id, Ct);

        // Pause: Hyper-V refuses exactly what the contract refuses, so there is no read before the call.
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.PauseInstanceAsync(spec.Id, Ct)));
        var counted = await CountAsync(async () =>
        {
            var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PauseInstanceAsync(spec.Id, Ct));
            Assert.Equal((PowerState.Paused, "rv:32775"), (ex.CurrentState, ex.NativeCode));
        });
        Assert.Equal(Calls(("RequestStateChange", 1), ("Enumerate", 1)), counted);

        // Unpause sends RequestStateChange(2), which Hyper-V also takes from Off; the driver last saw Paused, so no read.
        Assert.Equal(Calls(("RequestStateChange", 1), ("Get", 1)), await CountAsync(() => driver.UnpauseInstanceAsync(spec.Id, Ct)));

        // Delete of a VM the driver saw running: turn off, then destroy.
        Assert.Equal(Calls(("RequestStateChange", 1), ("DestroySystem", 1), ("Get", 2)), await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));
        Assert.Equal(0, _server.Host.VirtualMachineCount);
    }

    [Fact]
    public async Task Parallel_first_creates_look_the_management_service_and_the_index_up_once()
    {
        await using var driver = new HyperVDriver(HyperVFixture.OptionsFor(_server));
        var specs = Enumerable.Range(0, 8).Select(i => Spec("parallel-" + i)).ToList();
        var counted = await CountAsync(() => Task.WhenAll(specs.Select(s => driver.CreateInstanceAsync(s, Ct))));

        // 4 index enumerations + 1 service lookup + one ASSOCIATORS query per VM.
        Assert.Equal(Calls(("Enumerate", 4 + 1 + 8), ("DefineSystem", 8), ("ModifyResourceSettings", 8), ("Get", 16)), counted);
    }
}
