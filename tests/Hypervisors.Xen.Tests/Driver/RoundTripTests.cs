using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Driver;

/// <summary>
/// The XenAPI calls of each operation, counted by the simulator as they arrive, as the table in the driver's README
/// states them. A change that adds a call to an operation fails here.
/// </summary>
public sealed class RoundTripTests : IAsyncLifetime
{
    private XenApiSimulatorHost _simulator = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private XenApiSimulatorControl Control => _simulator.Options.Control;

    public async ValueTask InitializeAsync() => _simulator = await XenApiSimulatorHost.StartAsync(new XenApiSimulatorOptions { GuestsHavePvDrivers = true });

    public async ValueTask DisposeAsync() => await _simulator.DisposeAsync();

    private XenDriver NewDriver(XenApiTransport transport) =>
        new(new XenDriverOptions { Url = _simulator.Url, Transport = transport }.UseCredentials("root", "xenroot"));

    private static InstanceSpec Spec(string name, bool withDevices = false) => SimulatorDriverScope.Spec(name, withDevices) with { VCpus = 1, MemoryMiB = 64 };

    private async Task<Dictionary<string, int>> CountAsync(Func<Task> operation)
    {
        Control.ResetCallCounts();
        await operation();
        return Control.CallCounts.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    private static Dictionary<string, int> Calls(params (string Method, int Count)[] calls) =>
        calls.OrderBy(c => c.Method, StringComparer.Ordinal).ToDictionary(c => c.Method, c => c.Count, StringComparer.Ordinal);

    [Theory]
    [InlineData(XenApiTransport.XmlRpc)]
    [InlineData(XenApiTransport.JsonRpc)]
    public async Task The_lifecycle_sends_seven_calls_per_instance_once_the_driver_is_warm(XenApiTransport transport)
    {
        await using var driver = NewDriver(transport);

        // Cold: the login, an event token and the instance index, once per driver.
        var first = Spec("first");
        Assert.Equal(Calls(("session.login_with_password", 1), ("event.from", 1), ("VM.get_all_records", 1), ("VM.get_by_name_label", 1), ("VM.create", 1)),
            await CountAsync(() => driver.CreateInstanceAsync(first, Ct)));

        var spec = Spec("counted");
        InstanceInfo? created = null;
        Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1)), await CountAsync(async () => created = await driver.CreateInstanceAsync(spec, Ct)));
        Assert.Equal((PowerState.Shutdown, 1, 64L, "counted"), (created!.PowerState, created.VCpus, created.MemoryMiB, created.Name));
        var read = await driver.GetInstanceAsync(spec.Id, Ct);
        Assert.Equal((created.Id, created.Name, created.PowerState, created.VCpus, created.MemoryMiB, created.NativeId), (read.Id, read.Name, read.PowerState, read.VCpus, read.MemoryMiB, read.NativeId));

        Assert.Equal(Calls(("VM.start", 1)), await CountAsync(() => driver.StartInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.get_all_records", 1)), await CountAsync(() => driver.ListInstancesAsync(Ct)));
        Assert.Equal(Calls(("VM.get_power_state", 1), ("VM.hard_shutdown", 1)), await CountAsync(() => driver.PowerOffInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.get_record", 1), ("VM.destroy", 1)), await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));

        // No Async task, no task poll, no event.from was sent for any of them: nobody watched.
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(first.Id, Ct)).PowerState);
    }

    [Fact]
    public async Task Power_operations_are_one_synchronous_call_each()
    {
        await using var driver = NewDriver(XenApiTransport.XmlRpc);
        var spec = Spec("power");
        await driver.CreateInstanceAsync(spec, Ct);
        await driver.StartInstanceAsync(spec.Id, Ct);

        Assert.Equal(Calls(("VM.pause", 1)), await CountAsync(() => driver.PauseInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.unpause", 1)), await CountAsync(() => driver.UnpauseInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.suspend", 1)), await CountAsync(() => driver.SuspendInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.resume", 1)), await CountAsync(() => driver.ResumeInstanceAsync(spec.Id, Ct)));
        Assert.Equal(Calls(("VM.clean_reboot", 1)), await CountAsync(() => driver.RebootInstanceAsync(spec.Id, RebootKind.Soft, Ct)));
        Assert.Equal(Calls(("VM.hard_reboot", 1)), await CountAsync(() => driver.RebootInstanceAsync(spec.Id, RebootKind.Hard, Ct)));
        Assert.Equal(Calls(("VM.get_record", 1)), await CountAsync(() => driver.GetInstanceAsync(spec.Id, Ct)));

        // A refused transition costs the one call XenAPI refuses.
        Assert.Equal(Calls(("VM.start", 1)), await CountAsync(() => Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.StartInstanceAsync(spec.Id, Ct))));

        // Graceful stop: the state, then clean_shutdown as a task (cancellable at the graceful timeout), one poll, its destroy.
        Assert.Equal(Calls(("VM.get_power_state", 1), ("Async.VM.clean_shutdown", 1), ("task.get_record", 1), ("task.destroy", 1)),
            await CountAsync(() => driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(30), Ct)));
    }

    [Fact]
    public async Task Create_and_delete_with_a_disk_and_an_interface_send_one_call_per_object()
    {
        await using var driver = NewDriver(XenApiTransport.XmlRpc);
        await driver.ListInstancesAsync(Ct);
        var spec = Spec("devices", withDevices: true);

        // The default SR (pool.get_all, pool.get_default_SR) and each network (by name) are looked up once per driver.
        Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1), ("pool.get_all", 1), ("pool.get_default_SR", 1), ("VDI.create", 1), ("VBD.create", 1),
                ("network.get_by_name_label", 1), ("VIF.create", 1)),
            await CountAsync(() => driver.CreateInstanceAsync(spec, Ct)));
        var again = Spec("devices-again", withDevices: true);
        Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1), ("VDI.create", 1), ("VBD.create", 1), ("VIF.create", 1)),
            await CountAsync(() => driver.CreateInstanceAsync(again, Ct)));

        // VM.destroy takes the VBDs and VIFs with it; the VDI the driver made is found first and destroyed after.
        Assert.Equal(Calls(("VM.get_record", 1), ("VBD.get_VDI", 1), ("VDI.get_other_config", 1), ("VM.destroy", 1), ("VDI.destroy", 1)),
            await CountAsync(() => driver.DeleteInstanceAsync(spec.Id, Ct)));
        lock (_simulator.Database.Gate)
        {
            Assert.Single(_simulator.Database.All("VIF"));
            Assert.Single(_simulator.Database.All("VBD"));
        }

        // A repeated create of an equal spec reads the VM once to compare the stored spec.
        Assert.Equal(Calls(("VM.get_record", 1)), await CountAsync(() => driver.CreateInstanceAsync(again, Ct)));
    }

    [Fact]
    public async Task Concurrent_creates_share_one_network_lookup()
    {
        await using var driver = NewDriver(XenApiTransport.XmlRpc);
        await driver.ListInstancesAsync(Ct);
        using var slow = Control.SlowDown("network.get_by_name_label", TimeSpan.FromMilliseconds(300));
        var counts = await CountAsync(() => Task.WhenAll(Enumerable.Range(0, 4).Select(i => driver.CreateInstanceAsync(Spec("shared-" + i) with
        {
            NetworkInterfaces = [new NetworkInterfaceSpec(new XenApiSimulatorOptions().NetworkName)],
        }, Ct))));

        Assert.Equal(1, counts["network.get_by_name_label"]);
        Assert.Equal(4, counts["VIF.create"]);
    }

    [Fact]
    public async Task A_replaced_network_is_looked_up_again_once_and_the_interface_created()
    {
        await using var driver = NewDriver(XenApiTransport.XmlRpc);
        await driver.CreateInstanceAsync(Spec("before", withDevices: true), Ct);
        string replacement;
        lock (_simulator.Database.Gate)
        {
            var network = _simulator.Database.First("network");
            var record = network.Snapshot();
            record.Remove("uuid");
            record["VIFs"] = Array.Empty<string>();
            _simulator.Database.Remove(network);
            replacement = _simulator.Database.Add("network", record).Ref;
        }

        // VIF.create with the kept reference answers HANDLE_INVALID [network, ref]: one new lookup, one more VIF.create.
        var spec = Spec("after", withDevices: true);
        Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1), ("VDI.create", 1), ("VBD.create", 1), ("network.get_by_name_label", 1), ("VIF.create", 2)),
            await CountAsync(() => driver.CreateInstanceAsync(spec, Ct)));
        lock (_simulator.Database.Gate)
        {
            Assert.Single(_simulator.Database.Get("network", replacement).Refs("VIFs"));
        }

        // And the new reference is kept.
        Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1), ("VDI.create", 1), ("VBD.create", 1), ("VIF.create", 1)),
            await CountAsync(() => driver.CreateInstanceAsync(Spec("later", withDevices: true), Ct)));
    }

    [Fact]
    public async Task A_disk_from_an_image_file_costs_a_task_a_vdi_one_upload_and_the_task_read()
    {
        var images = Directory.CreateTempSubdirectory("hv-xen-roundtrip-");
        try
        {
            var image = Path.Combine(images.FullName, "base.raw");
            await File.WriteAllBytesAsync(image, new byte[64 * 1024], Ct);
            var options = new XenDriverOptions { Url = _simulator.Url }.UseCredentials("root", "xenroot");
            options.AllowedHostDirectories.Add(images.FullName);
            await using var driver = new XenDriver(options);
            await driver.CreateInstanceAsync(Spec("warm", withDevices: true), Ct);
            var spec = Spec("from-image") with { Disks = [new DiskSpec(1, image)] };

            // task.create for the import's outcome (xapi answers the PUT before it reads the body), VDI.create, the PUT
            // itself, one task.get_record (the answer ends when the task is done) and task.destroy; then the VBD.
            Assert.Equal(Calls(("VM.get_by_name_label", 1), ("VM.create", 1), ("task.create", 1), ("VDI.create", 1), ("PUT /import_raw_vdi", 1),
                    ("task.get_record", 1), ("task.destroy", 1), ("VBD.create", 1)),
                await CountAsync(() => driver.CreateInstanceAsync(spec, Ct)));
        }
        finally
        {
            images.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Watching_starts_one_event_loop_from_the_token_of_the_first_use()
    {
        await using var driver = NewDriver(XenApiTransport.XmlRpc);
        await driver.ListInstancesAsync(Ct);
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        await using var events = driver.WatchEventsAsync(watch.Token).GetAsyncEnumerator(watch.Token);
        var next = events.MoveNextAsync().AsTask();
        var spec = Spec("watched");
        await driver.CreateInstanceAsync(spec, Ct);
        Assert.True(await next.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal((spec.Id, InstanceEventKind.Created), (events.Current.InstanceId, events.Current.Kind));

        // No re-read of the VMs when the watch started: the loop began from what the first use took (the index
        // load), and the list read them once more.
        var counts = Control.CallCounts;
        Assert.Equal(2, counts["VM.get_all_records"]);
        Assert.Equal(1, counts["session.login_with_password"]);
    }
}
