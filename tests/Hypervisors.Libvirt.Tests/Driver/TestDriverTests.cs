using Hypervisors.Libvirt.Native;
using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt.Tests.Driver;

/// <summary>Driver behaviour beyond the kit, on private hosts of libvirt's test driver.</summary>
public sealed class TestDriverTests : PrivateTestHostSuite
{
    [Fact]
    public async Task A_name_that_looks_like_markup_is_refused_and_defines_nothing()
    {
        await using var driver = NewDriver();
        var spec = Spec() with { Name = "a</name><devices>" };
        var error = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec, Ct));
        Assert.Equal("spec.Name", error.Field);
        Assert.Empty(await driver.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task Create_is_idempotent_on_the_id_and_refuses_a_different_spec_or_a_taken_name()
    {
        await using var driver = NewDriver();
        var spec = Spec();
        var first = await driver.CreateInstanceAsync(spec, Ct);
        var again = await driver.CreateInstanceAsync(spec with { Metadata = new Dictionary<string, string>(spec.Metadata) }, Ct);
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(spec.Id.ToString("D"), again.NativeId);

        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.CreateInstanceAsync(spec with { MemoryMiB = 256 }, Ct));
        var sameName = Spec() with { Name = spec.Name };
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.CreateInstanceAsync(sameName, Ct));

        var listed = Assert.Single(await driver.ListInstancesAsync(Ct));
        Assert.Equal((spec.Id, spec.MemoryMiB), (listed.Id, listed.MemoryMiB));
    }

    [Fact]
    public async Task A_second_driver_reads_the_instance_record_from_libvirt_metadata()
    {
        // test:///default is one host per process, so two drivers on it share domains but not caches.
        await using var writer = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        await using var reader = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        var spec = Spec() with { Metadata = new Dictionary<string, string> { ["owner"] = "a & <b>" } };
        await writer.CreateInstanceAsync(spec, Ct);
        try
        {
            var seen = await reader.GetInstanceAsync(spec.Id, Ct);
            Assert.Equal("a & <b>", seen.Metadata["owner"]);
            Assert.Contains(await reader.ListInstancesAsync(Ct), i => i.Id == spec.Id && i.Metadata.Count == 1);

            // The sample domain of test:///default was not made by the driver: listed, without metadata.
            var sample = Assert.Single(await reader.ListInstancesAsync(Ct), i => i.Name == "test");
            Assert.Empty(sample.Metadata);
            Assert.Equal(PowerState.Running, sample.PowerState);

            // An equal create through the other driver is recognised from the stored record.
            Assert.Equal(spec.Id, (await reader.CreateInstanceAsync(spec, Ct)).Id);
        }
        finally
        {
            await writer.DeleteInstanceAsync(spec.Id, CancellationToken.None);
        }

        await Assert.ThrowsAsync<InstanceNotFoundException>(() => reader.GetInstanceAsync(spec.Id, Ct));
    }

    [Fact]
    public async Task A_record_rewritten_with_set_metadata_is_read_back_with_its_volumes()
    {
        await using var driver = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
        var spec = Spec();
        await driver.CreateInstanceAsync(spec, Ct);
        try
        {
            // What attach does on QEMU (the test driver has no device attach): store the record through virDomainSetMetadata.
            var record = new InstanceRecord(spec, null, null, [], [new VolumeAttachment("data", "/dev/sdz", "vda", false)]);
            using (var session = LibvirtSession.Open("test:///default", new NullSink()))
            {
                var domain = session.Domain(spec.Id);
                Assert.Equal(0, LibvirtNative.DomainSetMetadata(domain, 2, InstanceMetadataXml.ToXml(record), InstanceMetadataXml.Prefix, InstanceMetadataXml.NamespaceUri, 0));
            }

            await using var fresh = new LibvirtDriver(new LibvirtDriverOptions { Uri = "test:///default" });
            var devices = await fresh.GetDevicesAsync(spec.Id, Ct);
            Assert.Equal([new VolumeAttachment("data", "/dev/sdz", "vda", false)], devices.Volumes);
            Assert.Equal(spec.Metadata, (await fresh.GetInstanceAsync(spec.Id, Ct)).Metadata);
        }
        finally
        {
            await driver.DeleteInstanceAsync(spec.Id, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Start_of_a_suspended_instance_is_refused_and_resume_restores_it()
    {
        await using var driver = NewDriver();
        var spec = Spec();
        await driver.CreateInstanceAsync(spec with { StartAfterCreate = true }, Ct);
        await driver.SuspendInstanceAsync(spec.Id, Ct);
        Assert.Equal(PowerState.Suspended, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        var refused = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.StartInstanceAsync(spec.Id, Ct));
        Assert.Equal(PowerState.Suspended, refused.CurrentState);
        var powerOff = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.PowerOffInstanceAsync(spec.Id, Ct));
        Assert.Equal(PowerState.Suspended, powerOff.CurrentState);

        await driver.ResumeInstanceAsync(spec.Id, Ct);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        await driver.DeleteInstanceAsync(spec.Id, Ct);
    }

    [Fact]
    public async Task Errors_name_libvirts_code_and_missing_snapshots_are_device_errors()
    {
        await using var driver = NewDriver();
        var missing = await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.StartInstanceAsync(Guid.NewGuid(), Ct));
        Assert.Equal("VIR_ERR_NO_DOMAIN", missing.NativeCode);

        var spec = Spec();
        await driver.CreateInstanceAsync(spec, Ct);
        var snapshot = await Assert.ThrowsAsync<DeviceNotFoundException>(() => driver.DeleteSnapshotAsync(spec.Id, "no-such", Ct));
        Assert.Equal(("snapshot", "no-such", "VIR_ERR_NO_DOMAIN_SNAPSHOT"), (snapshot.DeviceKind, snapshot.DeviceId, snapshot.NativeCode));
        var running = await Assert.ThrowsAsync<InvalidPowerStateException>(() => driver.UnpauseInstanceAsync(spec.Id, Ct));
        Assert.Equal(PowerState.Shutdown, running.CurrentState);
        await driver.DeleteInstanceAsync(spec.Id, Ct);
    }

    [Fact]
    public async Task Capabilities_follow_what_the_test_driver_can_do_and_options_are_a_service()
    {
        await using var driver = NewDriver();
        var capabilities = driver.Capabilities;
        Assert.Equal("Test", capabilities.HypervisorType);
        Assert.False(capabilities.SupportsVolumeAttach);
        Assert.False(capabilities.SupportsInterfaceAttach);
        Assert.False(capabilities.SupportsConsoleOutput);
        Assert.True(capabilities.SupportsSnapshots && capabilities.SupportsEvents && capabilities.SupportsSuspend);
        Assert.Same(driver.GetService(typeof(LibvirtDriverOptions)), driver.GetService(typeof(LibvirtDriverOptions)));
        await Assert.ThrowsAsync<OperationNotSupportedException>(() => driver.AttachVolumeAsync(Guid.NewGuid(), new VolumeSpec("v", "/x"), Ct));

        var qemu = new LibvirtDriver(new LibvirtDriverOptions { Uri = "qemu+ssh://root@kvm1.example/system" });
        await using (qemu)
        {
            Assert.Equal("QEMU", qemu.Capabilities.HypervisorType);
            Assert.True(qemu.Capabilities.SupportsVolumeAttach);
            Assert.False(qemu.Capabilities.SupportsImageDisks);
            Assert.False(qemu.Capabilities.SupportsConsoleOutput);
        }

        Assert.Throws<ArgumentException>(() => new LibvirtDriver(new LibvirtDriverOptions { Uri = "xen:///system" }));
        Assert.Throws<ArgumentException>(() => new LibvirtDriver(new LibvirtDriverOptions { Uri = "not a uri" }));
    }

    [Fact]
    public async Task A_daemon_that_cannot_be_reached_is_unavailable_and_retryable()
    {
        var socket = Path.Combine(HostDirectory, "no-daemon.sock");
        await using var driver = new LibvirtDriver(new LibvirtDriverOptions { Uri = "qemu+unix:///system?socket=" + socket });
        var error = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.ListInstancesAsync(Ct));
        Assert.True(error.IsTransient);

        // Each call tries to connect again rather than keeping a broken connection.
        await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.GetHostInfoAsync(Ct));
    }

    private LibvirtDriver NewDriver() => new(new LibvirtDriverOptions { Uri = HostUri, InstanceDirectory = Path.Combine(HostDirectory, "instances") });

    private static InstanceSpec Spec() => new()
    {
        Id = Guid.NewGuid(),
        Name = "drv-" + Guid.NewGuid().ToString("N")[..10],
        VCpus = 1,
        MemoryMiB = 64,
        Metadata = new Dictionary<string, string> { ["suite"] = "driver" },
    };

    private sealed class NullSink : ILibvirtEventSink
    {
        public void OnLifecycleEvent(Guid domainId, int eventType, int detail)
        {
        }

        public void OnConnectionClosed(LibvirtSession session, int reason)
        {
        }
    }
}
