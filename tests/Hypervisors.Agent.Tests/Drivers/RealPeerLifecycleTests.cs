using Hypervisors.Agent.Client;
using Hypervisors.Agent.Tests.Infrastructure;
using Hypervisors.Esx.Tests.Vcsim;
using Hypervisors.Libvirt.Tests.RealGuest;
using Hypervisors.Testing;
using HyperVSimulator;
using XenApiSimulator;

namespace Hypervisors.Agent.Tests.Drivers;

/// <summary>
/// Issue 11 item 3: the agent hosts each driver kind from configuration alone (command-line keys, secrets in a
/// <c>PasswordFile</c>, TLS pinned where the peer speaks https) and drives create, start, stop, snapshot and delete
/// through its HTTP API against the kind's real peer. Each class starts its own peer on port 0 and its own agent on a
/// temporary data directory.
/// </summary>
public sealed class LibvirtQemuAgentTests
{
    [Fact]
    public async Task A_libvirt_driver_on_qemu_system_runs_a_real_guest_through_the_agent()
    {
        CiHost.Require();
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await TestAgent.StartAsync(Settings(allowed: CiHost.GuestDirectory));

        await DriverLifecycle.RunAsync(agent, "kvm", new CreateInstanceRequest
        {
            Name = "agent-kvm-" + Guid.NewGuid().ToString("N")[..8],
            VCpus = 1,
            MemoryMiB = 128,
            Disks = [new DiskSpec(2, CiHost.BaseImage)],
            KernelBoot = new KernelBootSpec(CiHost.Kernel, CiHost.Initramfs, "console=ttyS0 quiet panic=-1"),
        }, ct);
    }

    [Fact]
    public async Task A_libvirt_disk_outside_the_allowed_host_directories_is_refused_and_nothing_is_created()
    {
        CiHost.Require();
        var ct = TestContext.Current.CancellationToken;
        await using var agent = await TestAgent.StartAsync(Settings(allowed: CiHost.InstanceDirectory));
        var id = Guid.NewGuid();

        var refused = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.CreateInstanceAsync("kvm", id, new CreateInstanceRequest
        {
            Name = "agent-kvm-refused",
            VCpus = 1,
            MemoryMiB = 128,
            Disks = [new DiskSpec(2, CiHost.BaseImage)],
        }, TimeSpan.FromSeconds(60), ct));

        Assert.Equal((400, HypervisorErrorKind.InvalidSpec), (refused.StatusCode, refused.Problem.Kind));
        Assert.Contains("AllowedHostDirectories", refused.Problem.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(await agent.Client.ListInstancesAsync("kvm", ct), i => i.Id == id);
    }

    /// <summary>The driver <c>kvm</c> on the CI host's libvirtd (software emulation), host files allowed only in <paramref name="allowed"/>.</summary>
    private static Dictionary<string, string> Settings(string allowed) => new()
    {
        ["Agent:Drivers:kvm:Kind"] = "libvirt",
        ["Agent:Drivers:kvm:Uri"] = CiHost.Uri,
        ["Agent:Drivers:kvm:DomainType"] = "qemu",
        ["Agent:Drivers:kvm:MachineType"] = "pc",
        ["Agent:Drivers:kvm:InstanceDirectory"] = CiHost.InstanceDirectory,
        ["Agent:Drivers:kvm:AllowedHostDirectories:0"] = allowed,
        ["Agent:Drivers:kvm:ShutdownPollInterval"] = "00:00:00.250",
    };
}

/// <summary>The <c>esx</c> kind against vcsim over https, its certificate pinned by SHA-256, the password in a file.</summary>
public sealed class EsxVcsimAgentTests : WithSecretFiles
{
    [Fact]
    public async Task An_esx_driver_on_vcsim_runs_a_vm_through_the_agent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vcsim = await VcsimServer.StartAsync(vcenter: false, tls: true);
        var settings = Settings(vcsim, vcsim.Sha256!);
        settings["Agent:Drivers:esx1:Datastore"] = vcsim.Datastore;
        settings["Agent:Drivers:esx1:SoftReboot"] = "false";
        await using var agent = await TestAgent.StartAsync(settings);

        await DriverLifecycle.RunAsync(agent, "esx1", new CreateInstanceRequest { Name = "agent-esx-vm", VCpus = 1, MemoryMiB = 256, Disks = [new DiskSpec(1)] }, ct);
        Assert.DoesNotContain(agent.Logs.Entries, e => e.Message.Contains(VcsimServer.Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_esx_driver_on_vcsim_creates_a_vm_from_an_image_of_the_agents_cache()
    {
        var ct = TestContext.Current.CancellationToken;
        using var images = new AgentImageFolders("esx1", 128 * 1024);
        var bytes = images.Bytes;
        await using var vcsim = await VcsimServer.StartAsync(vcenter: false, tls: true);
        var settings = Settings(vcsim, vcsim.Sha256!);
        settings["Agent:Drivers:esx1:Datastore"] = vcsim.Datastore;
        settings["Agent:Drivers:esx1:SoftReboot"] = "false";
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>(settings.Concat(images.Settings)));

        // The reference is a name inside the allowed image directory; the cache probes it (raw) and the driver
        // uploads it to the datastore and copies it for the instance.
        await DriverLifecycle.RunAsync(agent, "esx1", AgentImageFolders.Request("agent-esx-image"), ct, async id =>
        {
            var disk = Assert.Single((await agent.Client.GetDevicesAsync("esx1", id, ct)).Disks);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(vcsim.DatastoreDirectory, "hypervisors-disks", $"{id:N}-0-flat.vmdk"), ct));
            Assert.NotNull(disk.ImageRef);
        });

        var extent = Assert.Single(Directory.GetFiles(Path.Combine(vcsim.DatastoreDirectory, "hypervisors-images"), "*-flat.vmdk"));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(extent, ct));
    }

    [Fact]
    public async Task An_esx_driver_whose_pin_does_not_match_fails_its_calls_and_the_agent_stays_up()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var vcsim = await VcsimServer.StartAsync(vcenter: false, tls: true);
        await using var agent = await TestAgent.StartAsync(Settings(vcsim, pin: new string('A', 64)));

        var refused = await Assert.ThrowsAsync<AgentApiException>(() => agent.Client.ListInstancesAsync("esx1", ct));

        Assert.True(refused.StatusCode >= 500, $"status {refused.StatusCode}");
        Assert.Single(await agent.Client.GetDriversAsync(ct));
    }

    /// <summary>The driver <c>esx1</c> on <paramref name="vcsim"/>: the URL without credentials, the password in a file, the certificate pinned.</summary>
    private Dictionary<string, string> Settings(VcsimServer vcsim, string pin) => new()
    {
        ["Agent:Drivers:esx1:Kind"] = "esx",
        ["Agent:Drivers:esx1:Url"] = new UriBuilder(vcsim.Url) { UserName = string.Empty, Password = string.Empty }.Uri.AbsoluteUri,
        ["Agent:Drivers:esx1:UserName"] = VcsimServer.UserName,
        ["Agent:Drivers:esx1:PasswordFile"] = SecretFile("password", VcsimServer.Password),
        ["Agent:Drivers:esx1:Tls:PinnedSha256Thumbprints:0"] = pin,
        ["Agent:Drivers:esx1:RequestTimeout"] = "00:00:30",
    };
}

/// <summary>The <c>xen</c> kind against the XenAPI simulator (a guest without PV drivers, as xapi makes it).</summary>
public sealed class XenSimulatorAgentTests : WithSecretFiles
{
    [Theory]
    [InlineData("XmlRpc")]
    [InlineData("JsonRpc")]
    public async Task A_xen_driver_on_the_xenapi_simulator_runs_a_vm_through_the_agent(string transport)
    {
        var ct = TestContext.Current.CancellationToken;
        var options = new XenApiSimulatorOptions();
        await using var simulator = await XenApiSimulatorHost.StartAsync(options, cancellationToken: ct);
        var settings = Settings(simulator);
        settings["Agent:Drivers:pool1:Transport"] = transport;
        await using var agent = await TestAgent.StartAsync(settings);

        await DriverLifecycle.RunAsync(agent, "pool1", new CreateInstanceRequest
        {
            Name = "agent-xen-vm",
            VCpus = 2,
            MemoryMiB = 256,
            Disks = [new DiskSpec(2)],
            NetworkInterfaces = [new NetworkInterfaceSpec(options.NetworkName)],
        }, ct);
    }

    [Fact]
    public async Task A_xen_driver_on_the_xenapi_simulator_creates_a_vm_from_an_image_of_the_agents_cache()
    {
        var ct = TestContext.Current.CancellationToken;
        using var images = new AgentImageFolders("pool1", 96 * 1024);
        var bytes = images.Bytes;
        var options = new XenApiSimulatorOptions();
        await using var simulator = await XenApiSimulatorHost.StartAsync(options, cancellationToken: ct);
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>(Settings(simulator).Concat(images.Settings)));

        // The cache hands the driver a raw file it vouches for; the driver imports it into a VDI (/import_raw_vdi).
        await DriverLifecycle.RunAsync(agent, "pool1", AgentImageFolders.Request("agent-xen-image"), ct, async id =>
        {
            var disk = Assert.Single((await agent.Client.GetDevicesAsync("pool1", id, ct)).Disks);
            Assert.Equal(bytes, simulator.ReadVdi(disk.Path!, bytes.Length));
        });

        Assert.Equal(1, simulator.Options.Control.CallCounts["PUT /import_raw_vdi"]);
    }

    /// <summary>The driver <c>pool1</c> on <paramref name="simulator"/>, the password in a file.</summary>
    private Dictionary<string, string> Settings(XenApiSimulatorHost simulator) => new()
    {
        ["Agent:Drivers:pool1:Kind"] = "xen",
        ["Agent:Drivers:pool1:Url"] = simulator.Url.AbsoluteUri,
        ["Agent:Drivers:pool1:UserName"] = simulator.Options.UserName,
        ["Agent:Drivers:pool1:PasswordFile"] = SecretFile("password", simulator.Options.Password),
    };
}

/// <summary>The <c>hyperv</c> kind against the Hyper-V (WS-Management) simulator.</summary>
public sealed class HyperVSimulatorAgentTests : WithSecretFiles
{
    [Fact]
    public async Task A_hyperv_driver_on_the_simulator_runs_a_vm_through_the_agent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var simulator = await HyperVSimulatorServer.StartAsync(cancellationToken: ct);
        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>
        {
            ["Agent:Drivers:hv1:Kind"] = "hyperv",
            ["Agent:Drivers:hv1:Url"] = simulator.Endpoint.AbsoluteUri,
            ["Agent:Drivers:hv1:UserName"] = simulator.Host.Options.UserName,
            ["Agent:Drivers:hv1:PasswordFile"] = SecretFile("password", simulator.Host.Options.Password),
            ["Agent:Drivers:hv1:DiskDirectory"] = @"C:\Agent\Disks",
            ["Agent:Drivers:hv1:JobPollInterval"] = "00:00:00.050",
        });

        await DriverLifecycle.RunAsync(agent, "hv1", new CreateInstanceRequest { Name = "agent-hyperv-vm", VCpus = 2, MemoryMiB = 512, Disks = [new DiskSpec(4)] }, ct);
    }
}

/// <summary>The <c>uml</c> kind: User Mode Linux guests on this host, booting a busybox root over hostfs.</summary>
public sealed class UmlAgentTests : IDisposable
{
    private const string KernelPath = "/usr/bin/linux.uml";

    // Short: the driver's Unix sockets live under it (at most 107 bytes a path).
    private readonly DirectoryInfo _root = Directory.CreateDirectory(Path.Combine("/tmp", "hv-agent-uml-" + Guid.NewGuid().ToString("N")[..8]));

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public async Task A_uml_driver_runs_a_guest_through_the_agent()
    {
        ExternalParts.Require(File.Exists(KernelPath) && File.Exists("/bin/busybox"), "User Mode Linux (linux.uml, busybox-static; .ci/setup/70-uml.sh)");
        var ct = TestContext.Current.CancellationToken;
        var images = _root.CreateSubdirectory("images");
        var guestRoot = images.CreateSubdirectory("root");
        foreach (var folder in new[] { "bin", "proc", "dev" })
        {
            guestRoot.CreateSubdirectory(folder);
        }

        File.Copy("/bin/busybox", Path.Combine(guestRoot.FullName, "bin", "busybox"));
        var init = Path.Combine(guestRoot.FullName, "init");
        await File.WriteAllTextAsync(init, "#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\nwhile true; do /bin/busybox sleep 1; done\n", ct);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(init, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var baseImage = Path.Combine(images.FullName, "base.img");
        await using (var image = File.Create(baseImage))
        {
            image.SetLength(4 * 1024 * 1024);
        }

        await using var agent = await TestAgent.StartAsync(new Dictionary<string, string>
        {
            ["Agent:Drivers:uml1:Kind"] = "uml",
            ["Agent:Drivers:uml1:StateDirectory"] = Path.Combine(_root.FullName, "state"),
            ["Agent:Drivers:uml1:KernelPath"] = KernelPath,
            ["Agent:Drivers:uml1:AllowedImageDirectories:0"] = images.FullName,
            ["Agent:Drivers:uml1:BootTimeout"] = "00:01:00",
        });

        await DriverLifecycle.RunAsync(agent, "uml1", new CreateInstanceRequest
        {
            Name = "agent-uml-guest",
            VCpus = 1,
            MemoryMiB = 64,
            Disks = [new DiskSpec(1, baseImage)],
            KernelBoot = new KernelBootSpec(KernelPath, null, "root=/dev/root rootfstype=hostfs rw init=/init quiet hostfs=" + guestRoot.FullName),
        }, ct);
    }
}
