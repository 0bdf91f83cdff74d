using System.Text;

namespace Hypervisors.Uml.Tests;

/// <summary>Snapshots of a COW disk the guest wrote to, running and stopped: uml_moo merges on create and on delete, the base image never changes.</summary>
public sealed class UmlSnapshotTests : IDisposable
{
    private readonly UmlTestHost _host = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 180_000)]
    public async Task A_snapshot_holds_what_the_guest_wrote_and_deleting_it_merges_the_cow_layer_into_a_plain_disk()
    {
        UmlTestHost.Require();
        await using var driver = new UmlDriver(_host.Options());
        var id = Guid.NewGuid();
        var folder = Path.Combine(_host.StateDirectory, "instances", id.ToString("D"));
        await driver.CreateInstanceAsync(_host.Spec(id, "snap-" + id.ToString("N")[..6]) with { StartAfterCreate = true }, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 1, "the boot marker");

        // Of a running guest: the kernel is held while the disk is copied; the copy holds the guest's write (made
        // before its boot marker), the disk stays on its COW layer, and the guest runs on.
        var live = await driver.CreateSnapshotAsync(id, "while-running", Ct);
        Assert.Equal(PowerState.Running, live.PowerStateAtSnapshot);
        Assert.True(StartsWithMarker(Path.Combine(folder, "snapshots", live.SnapshotId, "disk0.img")), "The running snapshot's image lacks what the guest wrote.");
        Assert.Equal(Path.Combine(folder, "disk0.cow"), Assert.Single((await driver.GetDevicesAsync(id, Ct)).Disks).Path);
        Assert.Equal(PowerState.Running, (await driver.GetInstanceAsync(id, Ct)).PowerState);
        var ticks = GuestConsole.Status(await GuestConsole.TextAsync(driver, id)).Count;
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Status(t).Count > ticks + 2, "status lines after the running snapshot");

        // Its images back no disk, so it can be deleted while the guest runs.
        await driver.DeleteSnapshotAsync(id, live.SnapshotId, Ct);
        Assert.False(Directory.Exists(Path.Combine(folder, "snapshots", live.SnapshotId)));
        await driver.StopInstanceAsync(id, TimeSpan.FromSeconds(30), Ct);

        // The guest's write is in the COW layer, not in the base image.
        Assert.True(File.Exists(Path.Combine(folder, "disk0.cow")));
        Assert.False(StartsWithMarker(_host.BaseImage), "The guest wrote through to the base image.");

        var snapshot = await driver.CreateSnapshotAsync(id, "after-first-boot", Ct);
        var image = Path.Combine(folder, "snapshots", snapshot.SnapshotId, "disk0.img");
        Assert.True(StartsWithMarker(image), "The snapshot image lacks what the guest wrote.");
        Assert.False(File.Exists(Path.Combine(folder, "disk0.cow")), "The merged COW layer was kept.");
        var disk = Assert.Single((await driver.GetDevicesAsync(id, Ct)).Disks);
        Assert.Equal(Path.Combine(folder, "disk0.cow"), disk.Path);
        Assert.Equal(_host.BaseImage, disk.ImageRef);

        // The disk goes on over the snapshot image; deleting the snapshot merges the new layer into it in place.
        await driver.StartInstanceAsync(id, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 2, "the second boot marker");
        await driver.StopInstanceAsync(id, TimeSpan.FromSeconds(30), Ct);
        await driver.DeleteSnapshotAsync(id, snapshot.SnapshotId, Ct);
        Assert.Empty(await driver.ListSnapshotsAsync(id, Ct));
        Assert.False(Directory.Exists(Path.Combine(folder, "snapshots", snapshot.SnapshotId)));
        var plain = Path.Combine(folder, "disk0.img");
        Assert.Equal(plain, Assert.Single((await driver.GetDevicesAsync(id, Ct)).Disks).Path);
        Assert.True(StartsWithMarker(plain), "The merged disk lacks what the guest wrote.");
        Assert.False(StartsWithMarker(_host.BaseImage));

        // It still boots, from the plain disk.
        await driver.StartInstanceAsync(id, Ct);
        await GuestConsole.WaitForAsync(driver, id, t => GuestConsole.Count(t, UmlTestHost.BootMarker) == 3, "the third boot marker");
        await driver.DeleteInstanceAsync(id, Ct);
        Assert.Empty(GuestConsole.ProcessesOf(id));
    }

    public void Dispose() => _host.Dispose();

    private static bool StartsWithMarker(string path)
    {
        var expected = Encoding.ASCII.GetBytes(UmlTestHost.DiskMarker);
        var actual = new byte[expected.Length];
        using var file = File.OpenRead(path);
        file.ReadExactly(actual);
        return actual.AsSpan().SequenceEqual(expected);
    }
}
