namespace Hypervisors.Fake.Tests;

/// <summary>The fake's host accounting: what running, paused, suspended and stopped instances hold, and refusals.</summary>
public sealed class FakeResourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InstanceSpec Spec(string name, int vcpus = 2, long memory = 1024, bool start = false, params DiskSpec[] disks) => new()
    {
        Id = Guid.NewGuid(),
        Name = name,
        VCpus = vcpus,
        MemoryMiB = memory,
        Disks = disks,
        StartAfterCreate = start,
    };

    [Fact]
    public async Task Starting_beyond_the_hosts_vcpus_throws_insufficient_resources_and_leaves_the_instance_stopped()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { VCpus = 4, MemoryMiB = 8192 });
        var first = await driver.CreateInstanceAsync(Spec("a", vcpus: 3, start: true), Ct);
        var second = await driver.CreateInstanceAsync(Spec("b", vcpus: 2), Ct);
        await Assert.ThrowsAsync<InsufficientResourcesException>(() => driver.StartInstanceAsync(second.Id, Ct));
        Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(second.Id, Ct)).PowerState);

        await driver.PowerOffInstanceAsync(first.Id, Ct);
        await driver.StartInstanceAsync(second.Id, Ct);
        Assert.Equal(2, (await driver.GetHostInfoAsync(Ct)).VCpusUsed);
    }

    [Fact]
    public async Task Creating_a_started_instance_beyond_the_hosts_memory_throws_and_creates_nothing()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { MemoryMiB = 2048 });
        var spec = Spec("big", memory: 4096, start: true);
        await Assert.ThrowsAsync<InsufficientResourcesException>(() => driver.CreateInstanceAsync(spec, Ct));
        Assert.Empty(await driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task Disks_count_against_local_storage_whatever_the_power_state()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { LocalDiskGiB = 100, AllowedHostDirectories = { "/images" } });
        await driver.CreateInstanceAsync(Spec("a", disks: [new DiskSpec(60), new DiskSpec(20, "/images/base.qcow2")]), Ct);
        var host = await driver.GetHostInfoAsync(Ct);
        Assert.Equal(80, host.LocalDiskGiBUsed);
        await Assert.ThrowsAsync<InsufficientResourcesException>(() => driver.CreateInstanceAsync(Spec("b", disks: [new DiskSpec(30)]), Ct));
        await driver.CreateInstanceAsync(Spec("c", disks: [new DiskSpec(20)]), Ct);
        Assert.Equal(100, (await driver.GetHostInfoAsync(Ct)).LocalDiskGiBUsed);
    }

    [Fact]
    public async Task Paused_instances_hold_resources_and_suspended_ones_release_them_until_resumed()
    {
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { VCpus = 4, MemoryMiB = 4096 });
        var a = await driver.CreateInstanceAsync(Spec("a", vcpus: 4, memory: 2048, start: true), Ct);
        await driver.PauseInstanceAsync(a.Id, Ct);
        var host = await driver.GetHostInfoAsync(Ct);
        Assert.Equal((4, 2048L), (host.VCpusUsed, host.MemoryMiBUsed));

        await driver.UnpauseInstanceAsync(a.Id, Ct);
        await driver.SuspendInstanceAsync(a.Id, Ct);
        host = await driver.GetHostInfoAsync(Ct);
        Assert.Equal((0, 0L), (host.VCpusUsed, host.MemoryMiBUsed));

        var b = await driver.CreateInstanceAsync(Spec("b", vcpus: 1, start: true), Ct);
        await Assert.ThrowsAsync<InsufficientResourcesException>(() => driver.ResumeInstanceAsync(a.Id, Ct));
        Assert.Equal(PowerState.Suspended, (await driver.GetInstanceAsync(a.Id, Ct)).PowerState);
        await driver.DeleteInstanceAsync(b.Id, Ct);
        await driver.ResumeInstanceAsync(a.Id, Ct);
        Assert.Equal(4, (await driver.GetHostInfoAsync(Ct)).VCpusUsed);
    }

    [Fact]
    public async Task Deleting_a_running_instance_releases_its_resources()
    {
        await using var driver = new FakeHypervisorDriver();
        var a = await driver.CreateInstanceAsync(Spec("a", vcpus: 3, memory: 512, start: true), Ct);
        await driver.DeleteInstanceAsync(a.Id, Ct);
        var host = await driver.GetHostInfoAsync(Ct);
        Assert.Equal((0, 0L), (host.VCpusUsed, host.MemoryMiBUsed));
    }
}
