using System.Net;
using System.Text;
using Hypervisors.Xen.Wire;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using XenApiSimulator.Model;

namespace Hypervisors.Xen.Tests.Driver;

public sealed class XenDriverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(XenApiTransport.XmlRpc)]
    [InlineData(XenApiTransport.JsonRpc)]
    public async Task After_the_server_kills_every_session_the_driver_logs_in_again_and_events_keep_flowing(XenApiTransport transport)
    {
        await using var scope = await SimulatorDriverScope.StartAsync(transport: transport);
        var spec = SimulatorDriverScope.Spec("relogin");
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        await scope.Driver.StartInstanceAsync(spec.Id, Ct);
        Assert.Equal(1, scope.Driver.Session.LoginCount);

        scope.Simulator.KillAllSessions();
        lock (scope.Simulator.Database.Gate)
        {
            Assert.Equal(0, scope.Simulator.Database.SessionCount);
        }

        Assert.Equal(PowerState.Running, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        Assert.True(scope.Driver.Session.LoginCount >= 2, $"The driver logged in {scope.Driver.Session.LoginCount} times.");

        // The event loop (also cut off) recovers: a pause still arrives as an event and the task wait completes.
        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        watch.CancelAfter(TimeSpan.FromSeconds(30));
        await using var events = scope.Driver.WatchEventsAsync(watch.Token).GetAsyncEnumerator(watch.Token);
        var next = events.MoveNextAsync().AsTask();
        await scope.Driver.PauseInstanceAsync(spec.Id, Ct);
        while (true)
        {
            Assert.True(await next);
            if (events.Current.InstanceId == spec.Id && events.Current.Kind == InstanceEventKind.Paused)
            {
                break;
            }

            next = events.MoveNextAsync().AsTask();
        }
    }

    [Fact]
    public async Task After_EVENTS_LOST_the_driver_resynchronises_and_tasks_and_events_keep_working()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(simulator: o => o.EventLogCapacity = 20);
        var first = SimulatorDriverScope.Spec("before-loss", withDevices: false);
        await scope.Driver.CreateInstanceAsync(first, Ct);

        // A burst of changes larger than the server's event log, in one go, so the driver's token falls out of it.
        lock (scope.Simulator.Database.Gate)
        {
            var pool = scope.Simulator.Database.First("pool");
            for (var i = 0; i < 100; i++)
            {
                scope.Simulator.Database.Inject(pool);
            }
        }

        using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        watch.CancelAfter(TimeSpan.FromSeconds(30));
        await using var events = scope.Driver.WatchEventsAsync(watch.Token).GetAsyncEnumerator(watch.Token);
        var next = events.MoveNextAsync().AsTask();
        await scope.Driver.StartInstanceAsync(first.Id, watch.Token); // the task's completion must come through the resynchronised loop
        Assert.Equal(PowerState.Running, (await scope.Driver.GetInstanceAsync(first.Id, Ct)).PowerState);
        while (true)
        {
            Assert.True(await next);
            if (events.Current.InstanceId == first.Id && events.Current.Kind == InstanceEventKind.Started)
            {
                break;
            }

            next = events.MoveNextAsync().AsTask();
        }
    }

    [Fact]
    public async Task A_self_signed_server_certificate_is_refused_unless_its_thumbprint_is_pinned()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=xen-sim", key, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var names = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pin = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.RawData));

        await using (var unpinned = await SimulatorDriverScope.StartAsync(simulator: o => o.Certificate = certificate))
        {
            Assert.Equal("https", unpinned.Simulator.Url.Scheme);
            await Assert.ThrowsAsync<HypervisorUnavailableException>(() => unpinned.Driver.ListInstancesAsync(Ct));
        }

        var images = Directory.CreateTempSubdirectory("hv-xen-tls-images-");
        try
        {
            await using var pinned = await SimulatorDriverScope.StartAsync(
                simulator: o => o.Certificate = certificate,
                driver: o =>
                {
                    o.Tls.PinnedSha256Thumbprints.Add(string.Join(':', pin.Chunk(2).Select(c => new string(c))));
                    o.AllowedHostDirectories.Add(images.FullName);
                });
            Assert.Equal("Xen", (await pinned.Driver.GetHostInfoAsync(Ct)).HypervisorType);

            // The image upload (PUT /import_raw_vdi) goes through the same pinned connection settings.
            var image = Path.Combine(images.FullName, "base.raw");
            var bytes = new byte[8192];
            Random.Shared.NextBytes(bytes);
            await File.WriteAllBytesAsync(image, bytes, Ct);
            var spec = SimulatorDriverScope.Spec("tls-image", withDevices: false) with { Disks = [new DiskSpec(1, image)] };
            await pinned.Driver.CreateInstanceAsync(spec, Ct);
            var disk = Assert.Single((await pinned.Driver.GetDevicesAsync(spec.Id, Ct)).Disks);
            Assert.Equal(bytes, pinned.Simulator.ReadVdi(disk.Path!, bytes.Length));
        }
        finally
        {
            images.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Wrong_credentials_are_an_authentication_error()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(driver: o => o.UseCredentials("root", "wrong"));
        var ex = await Assert.ThrowsAsync<HypervisorAuthenticationException>(() => scope.Driver.ListInstancesAsync(Ct));
        Assert.Equal("SESSION_AUTHENTICATION_FAILED", Assert.IsType<XenApiFailureException>(ex.InnerException).Code);
        Assert.DoesNotContain("wrong", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_unavailable_and_transient()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        await using var driver = new XenDriver(new XenDriverOptions { Url = new Uri($"http://127.0.0.1:{port}/") }.UseCredentials("root", "x"));
        var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.GetHostInfoAsync(Ct));
        Assert.True(ex.IsTransient);
    }

    [Theory]
    [InlineData("<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>Status</name>")]
    [InlineData("<!DOCTYPE x [<!ENTITY a \"b\">]><methodResponse/>")]
    [InlineData("{\"not\": \"xml\"}")]
    public async Task A_malformed_server_answer_is_a_protocol_error_not_a_hang(string body)
    {
        using var handler = new CannedHandler(HttpStatusCode.OK, body);
        await using var driver = new XenDriver(new XenDriverOptions { Url = new Uri("http://127.0.0.1:9/") }.UseCredentials("root", "x"), httpHandler: handler);
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.IsType<XenApiProtocolException>(ex.InnerException);
        Assert.Equal(InstanceOperation.ListInstances, ex.Operation);
    }

    [Fact]
    public async Task An_HTTP_error_status_is_unavailable()
    {
        using var handler = new CannedHandler(HttpStatusCode.InternalServerError, "<html>HTTP 500 internal server error</html>");
        await using var driver = new XenDriver(new XenDriverOptions { Url = new Uri("http://127.0.0.1:9/") }.UseCredentials("root", "x"), httpHandler: handler);
        var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("500", ex.NativeCode);
    }

    [Fact]
    public async Task A_guest_that_ignores_clean_shutdown_is_powered_off_after_the_timeout_and_its_task_is_cancelled_and_destroyed()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(simulator: o => o.CleanShutdownHangs = true);
        var spec = SimulatorDriverScope.Spec("stubborn") with { StartAfterCreate = true };
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        Assert.Equal(PowerState.Running, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);

        await scope.Driver.StopInstanceAsync(spec.Id, TimeSpan.FromMilliseconds(300), Ct);

        Assert.Equal(PowerState.Shutdown, (await scope.Driver.GetInstanceAsync(spec.Id, Ct)).PowerState);
        Assert.Equal(0, scope.Simulator.TaskCount);
    }

    [Fact]
    public async Task Creating_from_a_template_clones_it_and_applies_the_spec()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(driver: o => o.TemplateName = "Other install media");
        var spec = SimulatorDriverScope.Spec("from-template") with { Metadata = new Dictionary<string, string> { ["role"] = "web" } };

        var info = await scope.Driver.CreateInstanceAsync(spec, Ct);

        Assert.Equal((spec.Name, PowerState.Shutdown, 2, 128L), (info.Name, info.PowerState, info.VCpus, info.MemoryMiB));
        Assert.Equal("web", info.Metadata["role"]);
        lock (scope.Simulator.Database.Gate)
        {
            var vm = scope.Simulator.Database.Get("VM", info.NativeId);
            Assert.False(vm.Bool("is_a_template"));
            Assert.Equal(spec.Id.ToString("D"), vm.Map("other_config")["hypervisors_instance_id"]);
            Assert.Equal("cdrom", vm.Map("other_config")["install-methods"]);
            Assert.Single(scope.Simulator.Database.All("VM"), v => v.Bool("is_a_template"));
        }

        await scope.Driver.StartInstanceAsync(spec.Id, Ct);
        await scope.Driver.DeleteInstanceAsync(spec.Id, Ct);
        Assert.DoesNotContain(await scope.Driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
    }

    [Fact]
    public async Task Delete_removes_the_disks_interfaces_and_snapshots_it_made_but_not_attached_volumes()
    {
        await using var scope = await SimulatorDriverScope.StartAsync();
        var volumeUuid = scope.Simulator.CreateVdi("shared-volume", 1L << 30);
        (int Vms, int Vdis, int Vbds, int Vifs) Count()
        {
            lock (scope.Simulator.Database.Gate)
            {
                var db = scope.Simulator.Database;
                return (db.All("VM").Count(), db.All("VDI").Count(), db.All("VBD").Count(), db.All("VIF").Count());
            }
        }

        var before = Count();
        var spec = SimulatorDriverScope.Spec("devices") with { Disks = [new DiskSpec(1), new DiskSpec(3)] };
        await scope.Driver.CreateInstanceAsync(spec, Ct);
        await scope.Driver.AttachVolumeAsync(spec.Id, new VolumeSpec("vol", volumeUuid), Ct);
        Assert.Equal((before.Vms + 1, before.Vdis + 2, before.Vbds + 3, before.Vifs + 1), Count());
        var devices = await scope.Driver.GetDevicesAsync(spec.Id, Ct);
        Assert.Equal([1L, 3L], devices.Disks.Select(d => d.SizeGiB));
        Assert.Equal(["xvda", "xvdb"], devices.Disks.Select(d => d.Device));
        Assert.Equal("xvdc", Assert.Single(devices.Volumes).Device);
        await scope.Driver.StartInstanceAsync(spec.Id, Ct);
        var snapshot = await scope.Driver.CreateSnapshotAsync(spec.Id, "before-delete", Ct);
        Assert.Equal(PowerState.Running, snapshot.PowerStateAtSnapshot);
        Assert.Equal((before.Vms + 2, before.Vdis + 5, before.Vbds + 6, before.Vifs + 2), Count());

        await scope.Driver.DeleteInstanceAsync(spec.Id, Ct);

        Assert.Equal(before, Count());
        Assert.Equal(0, scope.Simulator.TaskCount);
    }

    [Fact]
    public async Task An_illegal_transition_carries_the_current_state_and_the_native_error()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(transport: XenApiTransport.JsonRpc);
        var spec = SimulatorDriverScope.Spec("illegal", withDevices: false);
        await scope.Driver.CreateInstanceAsync(spec, Ct);

        var ex = await Assert.ThrowsAsync<InvalidPowerStateException>(() => scope.Driver.PauseInstanceAsync(spec.Id, Ct));

        Assert.Equal(PowerState.Shutdown, ex.CurrentState);
        Assert.Equal(InstanceOperation.Pause, ex.Operation);
        var failure = Assert.IsType<XenApiFailureException>(ex.InnerException);
        Assert.Equal("VM_BAD_POWER_STATE", failure.Code);
        Assert.Equal(["running", "halted"], failure.Parameters.Skip(1));
    }

    [Fact]
    public async Task Host_info_comes_from_host_host_metrics_and_host_cpu()
    {
        await using var scope = await SimulatorDriverScope.StartAsync(simulator: o =>
        {
            o.CpuCount = 8;
            o.SocketCount = 2;
            o.HostMemoryBytes = 32L << 30;
        });
        var host = await scope.Driver.GetHostInfoAsync(Ct);
        Assert.Equal(("Xen", "4.17.3", "xen-sim-01"), (host.HypervisorType, host.HypervisorVersion, host.HostName));
        Assert.Equal((8, 2, 4), (host.VCpusTotal, host.Cpu.Sockets, host.Cpu.CoresPerSocket));
        Assert.Equal(32L * 1024, host.MemoryMiBTotal);
        Assert.Equal(1024L, host.MemoryMiBUsed);
        Assert.Equal(2394, host.Cpu.FrequencyMHz);
        Assert.Contains("x86_64", host.SupportedArchitectures);
        Assert.Contains("i686", host.SupportedArchitectures);
        Assert.InRange(host.Uptime, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(70));
    }

    [Fact]
    public async Task AddXen_registers_a_named_Xen_driver()
    {
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddXen("pool1", o => o.UseCredentials("root", "x").Url = new Uri("http://127.0.0.1:9/")));
        await using var provider = services.BuildServiceProvider();
        var driver = provider.GetRequiredService<IHypervisorDriverRegistry>().Get("pool1");
        Assert.IsType<XenDriver>(driver);
        Assert.Equal("Xen", driver.Capabilities.HypervisorType);
        Assert.NotNull(driver.GetService<XenDriverOptions>());
    }

    [Fact]
    public void Options_without_url_or_credentials_are_refused_as_bad_configuration()
    {
        Assert.Contains("XenDriverOptions:Url: is required.",
            Assert.Throws<OptionsValidationException>(() => new XenDriver(new XenDriverOptions().UseCredentials("a", "b"))).Failures);
        Assert.Contains("XenDriverOptions:UserName: is required.",
            Assert.Throws<OptionsValidationException>(() => new XenDriver(new XenDriverOptions { Url = new Uri("http://127.0.0.1/") })).Failures);
    }

    [Fact]
    public async Task A_driver_bound_from_configuration_is_validated_at_start_naming_the_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Drivers:pool1:Kind"] = "xen",
            ["Drivers:pool1:Url"] = "http://127.0.0.1:9/",
            ["Drivers:pool1:UserName"] = "root",
            ["Drivers:pool1:Password"] = "x",
            ["Drivers:pool1:TaskTimeout"] = "-00:00:01",
        }).Build();
        var services = new ServiceCollection();
        services.AddHypervisors(h => h.AddDriverKinds(typeof(XenDriver).Assembly).AddDriversFromConfiguration(configuration.GetSection("Drivers")));
        await using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Drivers:pool1:TaskTimeout: must be positive", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_never_print_the_password() =>
        Assert.DoesNotContain("s3cret", new XenCredentials("root", "s3cret").ToString(), StringComparison.Ordinal);

    private sealed class CannedHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "text/xml") });
    }
}
