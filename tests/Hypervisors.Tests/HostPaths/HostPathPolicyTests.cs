using Hypervisors.Fake;

namespace Hypervisors.Tests.HostPaths;

public sealed class HostPathPolicyTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("hv-hostpaths-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Allowed => Path.Combine(_root.FullName, "images");

    public HostPathPolicyTests()
    {
        Directory.CreateDirectory(Allowed);
        File.WriteAllText(Path.Combine(Allowed, "base.qcow2"), "image");
        Directory.CreateDirectory(Path.Combine(_root.FullName, "secret"));
        File.WriteAllText(Path.Combine(_root.FullName, "secret", "key"), "secret");
    }

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void Nothing_is_allowed_until_directories_are_configured()
    {
        Assert.False(HostPathPolicy.None.TryResolve(Path.Combine(Allowed, "base.qcow2"), out _));
        Assert.False(new HostPathPolicy([]).TryResolve("/etc/passwd", out _));
    }

    [Fact]
    public void Files_inside_an_allowed_directory_are_accepted_in_resolved_form()
    {
        var policy = new HostPathPolicy([Allowed]);

        Assert.Equal(Path.Combine(Allowed, "base.qcow2"), policy.Resolve(Path.Combine(Allowed, "base.qcow2"), "f"));
        Assert.Equal(Path.Combine(Allowed, "base.qcow2"), policy.Resolve(Path.Combine(Allowed, "sub", "..", ".", "base.qcow2"), "f"));
        Assert.Equal(Path.Combine(Allowed, "later.qcow2"), policy.Resolve(Path.Combine(Allowed, "later.qcow2"), "f"));
    }

    [Theory]
    [InlineData("/etc/shadow")]
    [InlineData("/etc/no-such-file")]
    [InlineData("../../etc/shadow")]
    [InlineData("relative/base.qcow2")]
    public void Paths_outside_get_one_refusal_that_does_not_say_whether_the_file_exists(string path)
    {
        var policy = new HostPathPolicy([Allowed]);

        var refusal = Assert.Throws<InvalidSpecException>(() => policy.Resolve(path, "spec.Disks[0].ImageRef"));

        Assert.Equal("spec.Disks[0].ImageRef", refusal.Field);
        Assert.Equal(HostPathPolicy.Refusal("spec.Disks[0].ImageRef").Message, refusal.Message);
    }

    [Fact]
    public void Dot_dot_cannot_climb_out_of_the_allowed_directory()
    {
        var policy = new HostPathPolicy([Allowed]);

        Assert.False(policy.TryResolve(Path.Combine(Allowed, "..", "secret", "key"), out _));
        Assert.False(policy.TryResolve(Allowed, out _));
        Assert.False(policy.TryResolve(Allowed + "-sibling/file", out _));
    }

    [Fact]
    public void Symbolic_links_are_resolved_before_the_check()
    {
        var policy = new HostPathPolicy([Allowed]);
        var escape = Path.Combine(Allowed, "escape");
        File.CreateSymbolicLink(escape, Path.Combine(_root.FullName, "secret", "key"));
        var directoryEscape = Path.Combine(Allowed, "up");
        Directory.CreateSymbolicLink(directoryEscape, _root.FullName);

        Assert.False(policy.TryResolve(escape, out _));
        Assert.False(policy.TryResolve(Path.Combine(directoryEscape, "secret", "key"), out _));
        // ".." after a link goes to the parent of the link's target, as the kernel resolves it.
        Assert.False(policy.TryResolve(Path.Combine(directoryEscape, "images", "..", "secret", "key"), out _));
        Assert.True(policy.TryResolve(Path.Combine(directoryEscape, "images", "base.qcow2"), out var resolved));
        Assert.Equal(Path.Combine(Allowed, "base.qcow2"), resolved);
    }

    [Fact]
    public void An_allowed_directory_given_through_a_link_allows_its_target()
    {
        var link = Path.Combine(_root.FullName, "images-link");
        Directory.CreateSymbolicLink(link, Allowed);

        Assert.True(new HostPathPolicy([link]).TryResolve(Path.Combine(Allowed, "base.qcow2"), out _));
    }

    [Fact]
    public void A_link_loop_is_refused()
    {
        var a = Path.Combine(Allowed, "a");
        var b = Path.Combine(Allowed, "b");
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);

        Assert.False(new HostPathPolicy([Allowed]).TryResolve(a, out _));
    }

    [Theory]
    [InlineData("/var/lib/images/a.qcow2", true)]
    [InlineData("../../etc/shadow", true)]
    [InlineData("images/a.qcow2", true)]
    [InlineData(@"C:\Images\a.vhdx", true)]
    [InlineData("debian-12", false)]
    [InlineData("[datastore1] images/a.vmdk", false)]
    [InlineData("glance:5f0c3c5e-0000-4000-8000-000000000000", false)]
    [InlineData("https://images.example/a.qcow2", false)]
    public void Host_paths_are_told_from_names_and_other_references(string reference, bool isHostPath) =>
        Assert.Equal(isHostPath, HostPathPolicy.IsHostPath(reference));

    [Fact]
    public void Relative_allowed_directories_are_refused_at_configuration() =>
        Assert.Throws<ArgumentException>(() => new HostPathPolicy(["images"]));

    [Fact]
    public async Task The_driver_base_refuses_images_kernels_initrds_and_volumes_outside_the_allowed_directories()
    {
        var options = new FakeHypervisorOptions { AllowedHostDirectories = { Allowed } };
        await using var driver = new FakeHypervisorDriver(options);
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "paths", VCpus = 1, MemoryMiB = 64 };

        var image = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, "/etc/shadow")] }, Ct));
        var relative = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, "../../etc/shadow")] }, Ct));
        var kernel = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { KernelBoot = new KernelBootSpec("/boot/vmlinuz") }, Ct));
        var initrd = await Assert.ThrowsAsync<InvalidSpecException>(() =>
            driver.CreateInstanceAsync(spec with { KernelBoot = new KernelBootSpec(Path.Combine(Allowed, "base.qcow2"), "/etc/shadow") }, Ct));

        Assert.Equal("spec.Disks[0].ImageRef", image.Field);
        Assert.Equal("spec.Disks[0].ImageRef", relative.Field);
        Assert.Equal("spec.KernelBoot.KernelPath", kernel.Field);
        Assert.Equal("spec.KernelBoot.InitrdPath", initrd.Field);
        Assert.Empty(await driver.ListInstancesAsync(Ct));

        var created = await driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, Path.Combine(Allowed, "base.qcow2"))] }, Ct);
        var volume = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.AttachVolumeAsync(created.Id, new VolumeSpec("v", "/etc/shadow"), Ct));
        Assert.Equal("volume.Source", volume.Field);
        Assert.Empty((await driver.GetDevicesAsync(created.Id, Ct)).Volumes);
    }

    [Fact]
    public async Task A_driver_with_default_options_allows_no_host_file()
    {
        await using var driver = new FakeHypervisorDriver();

        await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(
            new InstanceSpec { Id = Guid.NewGuid(), Name = "defaults", VCpus = 1, MemoryMiB = 64, Disks = [new DiskSpec(1, "/var/lib/images/a.qcow2")] }, Ct));
    }

    [Fact]
    public async Task A_trusted_image_store_widens_only_disk_images_and_only_to_the_files_it_vouches_for()
    {
        var storeDirectory = Path.Combine(_root.FullName, "cache");
        Directory.CreateDirectory(storeDirectory);
        var verified = Path.Combine(storeDirectory, "verified.qcow2");
        var partial = Path.Combine(storeDirectory, "partial.qcow2");
        File.WriteAllText(verified, "image");
        File.WriteAllText(partial, "half");
        var link = Path.Combine(Allowed, "to-verified.qcow2");
        File.CreateSymbolicLink(link, verified);
        await using var driver = new FakeHypervisorDriver(new FakeHypervisorOptions { AllowedHostDirectories = { Allowed } });
        var policy = Assert.IsType<HostPathPolicy>(driver.GetService(typeof(HostPathPolicy)));
        var store = new OneFileStore(verified);
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "trusted", VCpus = 1, MemoryMiB = 64 };
        await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, verified)] }, Ct));

        policy.TrustImagesOf(store);
        policy.TrustImagesOf(store);

        Assert.Same(store, Assert.Single(policy.VerifiedImageStores));
        var refusals = new[]
        {
            await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, partial)] }, Ct)),
            await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, Path.Combine(_root.FullName, "secret", "key"))] }, Ct)),
            await Assert.ThrowsAsync<InvalidSpecException>(() => driver.CreateInstanceAsync(spec with { KernelBoot = new KernelBootSpec(verified) }, Ct)),
        };
        Assert.Equal(["spec.Disks[0].ImageRef", "spec.Disks[0].ImageRef", "spec.KernelBoot.KernelPath"], refusals.Select(r => r.Field));
        Assert.Empty(await driver.ListInstancesAsync(Ct));

        var created = await driver.CreateInstanceAsync(spec with { Disks = [new DiskSpec(1, verified), new DiskSpec(1, Path.Combine(storeDirectory, ".", "verified.qcow2")), new DiskSpec(1, link)] }, Ct);
        var volume = await Assert.ThrowsAsync<InvalidSpecException>(() => driver.AttachVolumeAsync(created.Id, new VolumeSpec("v", verified), Ct));
        Assert.Equal("volume.Source", volume.Field);
        Assert.Equal([partial, Path.Combine(_root.FullName, "secret", "key"), verified], store.Asked.Distinct());
        Assert.Throws<InvalidOperationException>(() => HostPathPolicy.None.TrustImagesOf(store));
    }

    /// <summary>A store that vouches for one file and records what it was asked.</summary>
    private sealed class OneFileStore(string file) : IVerifiedImageStore
    {
        public List<string> Asked { get; } = [];

        public bool HoldsVerifiedImage(string resolvedPath)
        {
            lock (Asked)
            {
                Asked.Add(resolvedPath);
            }

            return resolvedPath == file;
        }
    }
}
