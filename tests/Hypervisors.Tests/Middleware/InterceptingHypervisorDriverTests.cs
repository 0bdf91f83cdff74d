using Hypervisors.Fake;

namespace Hypervisors.Tests;

public sealed class InterceptingHypervisorDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_call_is_intercepted_once_as_its_operation_with_its_instance_and_forwarded()
    {
        await using var driver = new Recording(new FakeHypervisorDriver(new FakeHypervisorOptions { AllowedHostDirectories = { "/dev" } }));
        var id = Guid.NewGuid();
        var expected = new List<(InstanceOperation, Guid?)>();

        async Task Step(InstanceOperation operation, Guid? instanceId, Func<Task> call)
        {
            await call();
            expected.Add((operation, instanceId));
        }

        await Step(InstanceOperation.GetHostInfo, null, () => driver.GetHostInfoAsync(Ct));
        await Step(InstanceOperation.Create, id, () => driver.CreateInstanceAsync(new InstanceSpec { Id = id, Name = "i", VCpus = 1, MemoryMiB = 64 }, Ct));
        await Step(InstanceOperation.ListInstances, null, () => driver.ListInstancesAsync(Ct));
        await Step(InstanceOperation.GetInstance, id, () => driver.GetInstanceAsync(id, Ct));
        await Step(InstanceOperation.Start, id, () => driver.StartInstanceAsync(id, Ct));
        await Step(InstanceOperation.SoftReboot, id, () => driver.RebootInstanceAsync(id, RebootKind.Soft, Ct));
        await Step(InstanceOperation.HardReboot, id, () => driver.RebootInstanceAsync(id, RebootKind.Hard, Ct));
        await Step(InstanceOperation.Pause, id, () => driver.PauseInstanceAsync(id, Ct));
        await Step(InstanceOperation.Unpause, id, () => driver.UnpauseInstanceAsync(id, Ct));
        await Step(InstanceOperation.Suspend, id, () => driver.SuspendInstanceAsync(id, Ct));
        await Step(InstanceOperation.Resume, id, () => driver.ResumeInstanceAsync(id, Ct));
        await Step(InstanceOperation.GetConsoleOutput, id, () => driver.GetConsoleOutputAsync(id, Ct));
        await Step(InstanceOperation.AttachVolume, id, () => driver.AttachVolumeAsync(id, new VolumeSpec("v", "/dev/v"), Ct));
        await Step(InstanceOperation.DetachVolume, id, () => driver.DetachVolumeAsync(id, "v", Ct));
        await Step(InstanceOperation.AttachInterface, id, () => driver.AttachInterfaceAsync(id, new NetworkInterfaceSpec("n", "02:00:00:00:00:01"), Ct));
        await Step(InstanceOperation.DetachInterface, id, () => driver.DetachInterfaceAsync(id, "02:00:00:00:00:01", Ct));
        await Step(InstanceOperation.GetDevices, id, () => driver.GetDevicesAsync(id, Ct));
        var snapshot = await driver.CreateSnapshotAsync(id, "s", Ct);
        expected.Add((InstanceOperation.CreateSnapshot, id));
        await Step(InstanceOperation.ListSnapshots, id, () => driver.ListSnapshotsAsync(id, Ct));
        await Step(InstanceOperation.DeleteSnapshot, id, () => driver.DeleteSnapshotAsync(id, snapshot.SnapshotId, Ct));
        await Step(InstanceOperation.PowerOff, id, () => driver.PowerOffInstanceAsync(id, Ct));
        await Step(InstanceOperation.Start, id, () => driver.StartInstanceAsync(id, Ct));
        await Step(InstanceOperation.Stop, id, () => driver.StopInstanceAsync(id, TimeSpan.Zero, Ct));
        await Step(InstanceOperation.Delete, id, () => driver.DeleteInstanceAsync(id, Ct));

        Assert.Equal(expected, driver.Seen);
        var operations = Enum.GetValues<InstanceOperation>().Where(o => o != InstanceOperation.WatchEvents);
        Assert.Equal(operations.Order(), driver.Seen.Select(s => s.Operation).Distinct().Order());
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(id, Ct));
    }

    [Fact]
    public async Task The_callers_token_reaches_the_inner_driver()
    {
        await using var driver = new Recording(new FakeHypervisorDriver());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => driver.ListInstancesAsync(new CancellationToken(canceled: true)));
        Assert.Equal([(InstanceOperation.ListInstances, (Guid?)null)], driver.Seen);
    }

    private sealed class Recording(IHypervisorDriver inner) : InterceptingHypervisorDriver(inner)
    {
        public List<(InstanceOperation Operation, Guid? InstanceId)> Seen { get; } = [];

        protected override Task<T> InterceptAsync<T>(InstanceOperation operation, Guid? instanceId, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
        {
            Seen.Add((operation, instanceId));
            return call(cancellationToken);
        }
    }
}
