namespace Hypervisors.Libvirt.Tests.RealGuest;

/// <summary>
/// A real QEMU guest through libvirtd: a Debian cloud kernel booted directly with a busybox initramfs, a qcow2
/// overlay on a base image, the serial console logged to a file.
/// </summary>
[Collection(LibvirtdCollection.Name)]
public sealed class QemuGuestTests
{
    // Software emulation on a loaded 2-core machine: a boot takes seconds, sometimes a minute.
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_guest_boots_prints_reboots_prints_again_stops_and_is_deleted_without_leftovers()
    {
        CiHost.Require();
        await using var driver = CiHost.NewDriver();
        var spec = new InstanceSpec
        {
            Id = Guid.NewGuid(),
            Name = "ci-guest-" + Guid.NewGuid().ToString("N")[..8],
            VCpus = 1,
            MemoryMiB = 256,
            Disks = [new DiskSpec(2, CiHost.BaseImage)],
            KernelBoot = new KernelBootSpec(CiHost.Kernel, CiHost.Initramfs, "console=ttyS0 quiet panic=-1"),
            Metadata = new Dictionary<string, string> { ["test"] = nameof(QemuGuestTests) },
        };
        var events = driver.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
        var directory = Path.Combine(CiHost.InstanceDirectory, spec.Id.ToString("D"));
        try
        {
            var created = await driver.CreateInstanceAsync(spec, Ct);
            Assert.Equal(PowerState.Shutdown, created.PowerState);

            // The disk is a qcow2 overlay backed by the base image.
            var disk = Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Disks);
            Assert.Equal("vda", disk.Device);
            Assert.True(File.Exists(disk.Path), $"No overlay at {disk.Path}.");
            var header = new byte[4];
            await using (var overlay = File.OpenRead(disk.Path!))
            {
                await overlay.ReadExactlyAsync(header, Ct);
            }

            Assert.Equal("QFI\xfb", string.Concat(header.Select(b => (char)b)));

            // A volume attached and detached while the domain is off changes its persistent definition only.
            var volumePath = Path.Combine(directory, "scratch.img");
            await using (var scratch = File.Create(volumePath))
            {
                scratch.SetLength(1024 * 1024);
            }

            var attached = await driver.AttachVolumeAsync(spec.Id, new VolumeSpec("scratch", volumePath), Ct);
            Assert.Equal("vdb", attached.Device);
            Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Volumes, v => v.VolumeId == "scratch");
            await driver.DetachVolumeAsync(spec.Id, "scratch", Ct);
            Assert.Empty((await driver.GetDevicesAsync(spec.Id, Ct)).Volumes);

            // An internal snapshot of the shut-off overlay (qemu-img snapshot inside the qcow2 file).
            var snapshot = await driver.CreateSnapshotAsync(spec.Id, "before-boot", Ct);
            Assert.Equal(("before-boot", PowerState.Shutdown), (snapshot.Name, snapshot.PowerStateAtSnapshot));
            Assert.Equal([snapshot.SnapshotId], (await driver.ListSnapshotsAsync(spec.Id, Ct)).Select(x => x.SnapshotId));
            await driver.DeleteSnapshotAsync(spec.Id, snapshot.SnapshotId, Ct);
            Assert.Empty(await driver.ListSnapshotsAsync(spec.Id, Ct));

            // So does an interface: libvirt checks the network only when the domain starts.
            var nic = await driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("default", "52:54:00:C1:00:01"), Ct);
            Assert.Equal(("52:54:00:c1:00:01", "default"), (nic.MacAddress, nic.Network));
            Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).NetworkInterfaces, n => n.MacAddress == "52:54:00:c1:00:01");
            await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => driver.AttachInterfaceAsync(spec.Id, new NetworkInterfaceSpec("default", "52:54:00:c1:00:01"), Ct));
            await driver.DetachInterfaceAsync(spec.Id, "52:54:00:C1:00:01", Ct);
            Assert.Empty((await driver.GetDevicesAsync(spec.Id, Ct)).NetworkInterfaces);
            await Assert.ThrowsAsync<DeviceNotFoundException>(() => driver.DetachInterfaceAsync(spec.Id, "52:54:00:c1:00:01", Ct));

            await driver.StartInstanceAsync(spec.Id, Ct);
            Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
            await ExpectEventAsync(events, spec.Id, InstanceEventKind.Started);
            await WaitForMarkersAsync(driver, spec.Id, 1);

            var host = await driver.GetHostInfoAsync(Ct);
            Assert.Equal("QEMU", host.HypervisorType);
            Assert.True(host.VCpusUsed >= 1 && host.MemoryMiBUsed >= spec.MemoryMiB, $"A running guest is not counted: {host}.");
            Assert.Contains("x86_64", host.SupportedArchitectures);

            await driver.PauseInstanceAsync(spec.Id, Ct);
            Assert.Equal(PowerState.Paused, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
            await ExpectEventAsync(events, spec.Id, InstanceEventKind.Paused);
            await driver.UnpauseInstanceAsync(spec.Id, Ct);
            Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);

            await driver.RebootInstanceAsync(spec.Id, RebootKind.Hard, Ct);
            await WaitForMarkersAsync(driver, spec.Id, 2);

            // busybox init ignores the ACPI power button, so the graceful stop ends in a destroy after its timeout.
            await driver.StopInstanceAsync(spec.Id, TimeSpan.FromSeconds(2), Ct);
            Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
            await ExpectEventAsync(events, spec.Id, InstanceEventKind.Stopped);

            await driver.DeleteInstanceAsync(spec.Id, Ct);
            await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(spec.Id, Ct));
            Assert.DoesNotContain(await driver.ListInstancesAsync(Ct), i => i.Id == spec.Id || i.Name == spec.Name);
            Assert.False(Directory.Exists(directory), $"The instance folder {directory} is still there.");
            Assert.False(File.Exists(disk.Path), $"The overlay {disk.Path} is still there.");
        }
        finally
        {
            await events.DisposeAsync();
            try
            {
                await driver.DeleteInstanceAsync(spec.Id, CancellationToken.None);
            }
            catch (InstanceNotFoundException)
            {
                // Deleted by the test.
            }
        }
    }

    private static async Task WaitForMarkersAsync(LibvirtDriver driver, Guid id, int count)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(BootTimeout);
        var seen = 0;
        var text = string.Empty;
        try
        {
            while (seen < count)
            {
                text = (await driver.GetConsoleOutputAsync(id, timeout.Token)).Text;
                seen = CountMarkers(text);
                if (seen < count)
                {
                    await Task.Delay(500, timeout.Token);
                }
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"Saw the boot marker {seen} time(s) within {BootTimeout}, expected {count}. Console tail:\n{text[Math.Max(0, text.Length - 2000)..]}");
        }
    }

    private static int CountMarkers(string text)
    {
        var count = 0;
        for (var at = text.IndexOf(CiHost.Marker, StringComparison.Ordinal); at >= 0; at = text.IndexOf(CiHost.Marker, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static async Task ExpectEventAsync(IAsyncEnumerator<InstanceEvent> events, Guid id, InstanceEventKind kind)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var seen = new List<InstanceEvent>();
        try
        {
            while (await events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
            {
                seen.Add(events.Current);
                if (events.Current.InstanceId == id && events.Current.Kind == kind)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
        }

        Assert.Fail($"No {kind} event for {id}; saw: {string.Join(", ", seen.Select(e => $"{e.Kind}/{e.PowerState}"))}.");
    }
}
