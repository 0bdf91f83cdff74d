using Hypervisors.Xen.Wire;
using XenApiSimulator;

namespace Hypervisors.Xen.Tests.Driver;

/// <summary>
/// Disks from raw image files of this machine, imported into new VDIs through the simulator's <c>/import_raw_vdi</c>:
/// the bytes arrive, a failed or refused import leaves no VDI, VM or task behind and throws a typed error.
/// </summary>
public sealed class XenImageImportTests : IAsyncLifetime
{
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hv-xen-images-");
    private SimulatorDriverScope _scope = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private XenApiSimulatorHost Simulator => _scope.Simulator;

    private XenDriver Driver => _scope.Driver;

    public async ValueTask InitializeAsync() =>
        _scope = await SimulatorDriverScope.StartAsync(driver: o => o.AllowedHostDirectories.Add(_images.FullName));

    public async ValueTask DisposeAsync()
    {
        await _scope.DisposeAsync();
        _images.Delete(recursive: true);
    }

    [Fact]
    public async Task A_raw_image_file_is_imported_into_a_new_vdi_that_holds_its_bytes()
    {
        var (image, bytes) = await WriteImageAsync("base.raw", 192 * 1024);
        var spec = Spec(image, sizeGiB: 2);

        await Driver.CreateInstanceAsync(spec, Ct);

        var disk = Assert.Single((await Driver.GetDevicesAsync(spec.Id, Ct)).Disks);
        Assert.Equal((image, 2L), (disk.ImageRef, disk.SizeGiB));
        Assert.Equal(bytes, Simulator.ReadVdi(disk.Path!, bytes.Length));
        Assert.Equal(new byte[512], Simulator.ReadVdi(disk.Path!, bytes.Length + 512)[bytes.Length..]);
        Assert.Equal(0, Simulator.TaskCount);

        await Driver.DeleteInstanceAsync(spec.Id, Ct);
        lock (Simulator.Database.Gate)
        {
            Assert.DoesNotContain(Simulator.Database.All("VDI"), v => v.Uuid == disk.Path);
        }
    }

    [Fact]
    public async Task A_file_an_image_store_vouches_for_is_imported_outside_the_allowed_directories()
    {
        var elsewhere = Directory.CreateTempSubdirectory("hv-xen-cache-");
        try
        {
            var cached = Path.Combine(elsewhere.FullName, "entry.raw");
            var bytes = new byte[4096];
            Random.Shared.NextBytes(bytes);
            await File.WriteAllBytesAsync(cached, bytes, Ct);

            // Without the store's word the file is refused like any host path outside the allow-list.
            var refused = await Assert.ThrowsAsync<InvalidSpecException>(() => Driver.CreateInstanceAsync(Spec(cached), Ct));
            Assert.Equal("spec.Disks[0].ImageRef", refused.Field);

            Driver.GetService<HostPathPolicy>()!.TrustImagesOf(new OneFileStore(cached));
            var spec = Spec(cached);
            await Driver.CreateInstanceAsync(spec, Ct);
            var disk = Assert.Single((await Driver.GetDevicesAsync(spec.Id, Ct)).Disks);
            Assert.Equal(bytes, Simulator.ReadVdi(disk.Path!, bytes.Length));
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }

    public static TheoryData<string> UploadFaults => ["connection dropped mid-body", "HTTP 500"];

    [Theory]
    [MemberData(nameof(UploadFaults))]
    public async Task A_failed_upload_leaves_no_vdi_and_throws_a_typed_error(string fault)
    {
        var (image, _) = await WriteImageAsync("base.raw", 1024 * 1024);
        await Driver.ListInstancesAsync(Ct);
        var vdisBefore = VdiUuids();
        var spec = Spec(image);

        using (fault == "HTTP 500" ? Simulator.Options.Control.FailImports() : Simulator.Options.Control.BreakImports(64 * 1024))
        {
            var error = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => Driver.CreateInstanceAsync(spec, Ct));
            Assert.Equal(InstanceOperation.Create, error.Operation);
        }

        Assert.Equal(vdisBefore, VdiUuids());
        Assert.Empty(await Driver.ListInstancesAsync(Ct));
        Assert.Equal(0, Simulator.TaskCount);
        await Assert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct));

        // The refusal changed nothing: the same create succeeds once the host behaves.
        await Driver.CreateInstanceAsync(spec, Ct);
        Assert.Single((await Driver.GetDevicesAsync(spec.Id, Ct)).Disks);
    }

    [Fact]
    public async Task A_session_that_dies_before_the_upload_is_renewed_and_the_upload_repeated()
    {
        var (image, bytes) = await WriteImageAsync("base.raw", 32 * 1024);
        var options = new XenDriverOptions { Url = Simulator.Url }.UseCredentials("root", "xenroot");
        options.AllowedHostDirectories.Add(_images.FullName);

        // The first PUT arrives with a session the server has just forgotten (as after a xapi restart): 401.
        await using var driver = new XenDriver(options, httpHandler: new KillSessionsOnFirstPut(Simulator));
        var spec = Spec(image);
        Simulator.Options.Control.ResetCallCounts();
        await driver.CreateInstanceAsync(spec, Ct);

        var counts = Simulator.Options.Control.CallCounts;
        Assert.Equal((2, 2), (counts["PUT /import_raw_vdi"], counts["session.login_with_password"]));
        Assert.Equal(2, driver.Session.LoginCount);
        var disk = Assert.Single((await driver.GetDevicesAsync(spec.Id, Ct)).Disks);
        Assert.Equal(bytes, Simulator.ReadVdi(disk.Path!, bytes.Length));
        Assert.Equal(0, Simulator.TaskCount);
    }

    [Fact]
    public async Task An_import_into_a_vdi_a_running_vm_writes_fails_its_task_with_vdi_in_use_and_writes_nothing()
    {
        var (image, bytes) = await WriteImageAsync("base.raw", 4096);
        var spec = Spec(image) with { StartAfterCreate = true };
        await Driver.CreateInstanceAsync(spec, Ct);
        var vdiUuid = Assert.Single((await Driver.GetDevicesAsync(spec.Id, Ct)).Disks).Path!;

        using var http = new HttpClient();
        using var rpc = new XenApiRpcClient(Simulator.Url, XenApiTransport.XmlRpc, http, TimeSpan.FromSeconds(30));
        var session = XenValue.ToText(await rpc.CallAsync("session.login_with_password", ["root", "xenroot", "1.0", "test"], TimeSpan.Zero, Ct));
        var vdiRef = XenValue.ToText(await rpc.CallAsync("VDI.get_by_uuid", [session, vdiUuid], TimeSpan.Zero, Ct));
        var taskRef = XenValue.ToText(await rpc.CallAsync("task.create", [session, "in-use", string.Empty], TimeSpan.Zero, Ct));
        using var body = new MemoryStream(new byte[512]);
        await rpc.PutAsync("/import_raw_vdi", [new("session_id", session), new("task_id", taskRef), new("vdi", vdiRef)], body, body.Length, TimeSpan.FromSeconds(30), Ct);

        var task = XenValue.ToStruct(await rpc.CallAsync("task.get_record", [session, taskRef], TimeSpan.Zero, Ct));
        Assert.Equal("failure", XenValue.ToText(task["status"]));
        Assert.Equal(["VDI_IN_USE", vdiRef], XenValue.ToStringArray(task["error_info"]));
        Assert.Equal(bytes, Simulator.ReadVdi(vdiUuid, bytes.Length));
    }

    [Fact]
    public async Task Files_that_are_not_raw_disk_images_are_refused_before_anything_is_created()
    {
        var qcow2 = new byte[4096];
        ((byte[])[(byte)'Q', (byte)'F', (byte)'I', 0xFB]).CopyTo(qcow2, 0);
        var (qcowFile, _) = await WriteImageAsync("disk.qcow2", 0, qcow2);
        var (vmdkFile, _) = await WriteImageAsync("disk.vmdk", 0, [.. "KDMV"u8, .. new byte[508]]);
        var (oddFile, _) = await WriteImageAsync("odd.raw", 1000);
        var outside = Path.Combine(Path.GetTempPath(), "hv-xen-outside-" + Guid.NewGuid().ToString("N") + ".raw");
        await File.WriteAllBytesAsync(outside, new byte[4096], Ct);
        try
        {
            await Driver.ListInstancesAsync(Ct);
            var vdisBefore = VdiUuids();
            Simulator.Options.Control.ResetCallCounts();
            foreach (var reference in new[] { qcowFile, vmdkFile, oddFile, Path.Combine(_images.FullName, "missing.raw"), outside, "/etc/passwd" })
            {
                var refusal = await Assert.ThrowsAsync<InvalidSpecException>(() => Driver.CreateInstanceAsync(Spec(reference), Ct));
                Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
            }

            Assert.Equal(vdisBefore, VdiUuids());
            Assert.Empty(await Driver.ListInstancesAsync(Ct));
            Assert.False(Simulator.Options.Control.CallCounts.ContainsKey("PUT /import_raw_vdi"));
            Assert.False(Simulator.Options.Control.CallCounts.ContainsKey("task.create"));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Fact]
    public async Task A_cancelled_import_leaves_no_vdi()
    {
        var (image, _) = await WriteImageAsync("big.raw", 8 * 1024 * 1024);
        await Driver.ListInstancesAsync(Ct);
        var vdisBefore = VdiUuids();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        using var slow = Simulator.Options.Control.SlowDown("task.get_record", TimeSpan.FromMinutes(1));
        var create = Driver.CreateInstanceAsync(Spec(image), cancel.Token);
        while (!Simulator.Options.Control.CallCounts.ContainsKey("task.get_record"))
        {
            await Task.Delay(10, Ct);
        }

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => create);
        Assert.Equal(vdisBefore, VdiUuids());
        Assert.Equal(0, Simulator.TaskCount);
    }

    private async Task<(string Path, byte[] Bytes)> WriteImageAsync(string name, int length, byte[]? content = null)
    {
        var bytes = content ?? new byte[length];
        if (content is null)
        {
            Random.Shared.NextBytes(bytes);
        }

        var path = Path.Combine(_images.FullName, name);
        await File.WriteAllBytesAsync(path, bytes, Ct);
        return (path, bytes);
    }

    private string[] VdiUuids()
    {
        lock (Simulator.Database.Gate)
        {
            return [.. Simulator.Database.All("VDI").Select(v => v.Uuid).Order(StringComparer.Ordinal)];
        }
    }

    private static InstanceSpec Spec(string image, int sizeGiB = 1) =>
        SimulatorDriverScope.Spec("img-" + Guid.NewGuid().ToString("N")[..8], withDevices: false) with { Disks = [new DiskSpec(sizeGiB, image)] };

    private sealed class KillSessionsOnFirstPut(XenApiSimulatorHost simulator) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _puts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Put && Interlocked.Increment(ref _puts) == 1)
            {
                simulator.KillAllSessions();
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class OneFileStore(string file) : IVerifiedImageStore
    {
        public bool HoldsVerifiedImage(string resolvedPath) => resolvedPath == file;
    }
}
