namespace Hypervisors.Tests;

public sealed class InstanceSpecValidatorTests
{
    private static InstanceSpec Valid() => new()
    {
        Id = Guid.NewGuid(),
        Name = "web-1",
        VCpus = 2,
        MemoryMiB = 512,
        Disks = [new DiskSpec(10, "/images/base.qcow2")],
        NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:12:34:56")],
        KernelBoot = new KernelBootSpec("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"),
        Metadata = new Dictionary<string, string> { ["owner"] = "tenant" },
    };

    public static TheoryData<string, string, string> Cases => new()
    {
        { "empty id", "spec.Id", "empty UUID" },
        { "empty name", "spec.Name", "must not be empty" },
        { "long name", "spec.Name", "at most 63 characters" },
        { "markup name", "spec.Name", "character 5 is '<'" },
        { "dot name", "spec.Name", "must not start with" },
        { "zero vcpus", "spec.VCpus", "between 1 and 1024" },
        { "many vcpus", "spec.VCpus", "between 1 and 1024" },
        { "tiny memory", "spec.MemoryMiB", "between 16 and" },
        { "huge memory", "spec.MemoryMiB", "between 16 and" },
        { "null disks", "spec.Disks", "must not be null" },
        { "too many disks", "spec.Disks", "at most 64 disks" },
        { "null disk", "spec.Disks[0]", "must not be null" },
        { "zero disk", "spec.Disks[0].SizeGiB", "between 1 and 65536" },
        { "control image", "spec.Disks[0].ImageRef", "control characters" },
        { "empty network", "spec.NetworkInterfaces[0].Network", "must not be empty" },
        { "bad mac", "spec.NetworkInterfaces[0].MacAddress", "six colon-separated hex pairs" },
        { "multicast mac", "spec.NetworkInterfaces[0].MacAddress", "multicast" },
        { "duplicate mac", "spec.NetworkInterfaces[1].MacAddress", "used by another interface" },
        { "relative kernel", "spec.KernelBoot.KernelPath", "absolute path" },
        { "relative initrd", "spec.KernelBoot.InitrdPath", "absolute path" },
        { "long metadata key", "spec.Metadata key", "at most 64 characters" },
        { "long metadata value", "spec.Metadata[k]", "at most 1024 characters" },
        { "too much metadata", "spec.Metadata", "at most 128 entries" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_invalid_field_is_named_with_a_reason(string problem, string field, string reason)
    {
        var spec = Break(Valid(), problem);
        var ex = Assert.Throws<InvalidSpecException>(() => InstanceSpecValidator.Validate(spec));
        Assert.Equal(field, ex.Field);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.StartsWith(field + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Equal(HypervisorErrorKind.InvalidSpec, ex.Kind);
    }

    [Fact]
    public void A_valid_spec_passes()
    {
        InstanceSpecValidator.Validate(Valid());
        InstanceSpecValidator.Validate(Valid() with { KernelBoot = null, Disks = [], NetworkInterfaces = [new NetworkInterfaceSpec("br0")] });
    }

    [Theory]
    [InlineData("52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef")]
    [InlineData("52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef")]
    public void Macs_normalize_to_lower_case_colon_form(string mac, string expected) =>
        Assert.Equal(expected, InstanceSpecValidator.NormalizeMac(mac));

    [Theory]
    [InlineData("52:54:00:ab:cd")]
    [InlineData("52:54:00:ab:cd:eg")]
    [InlineData("52.54.00.ab.cd.ef")]
    public void Malformed_macs_do_not_normalize(string mac)
    {
        Assert.False(InstanceSpecValidator.TryNormalizeMac(mac, out _));
        Assert.Equal("macAddress", Assert.Throws<InvalidSpecException>(() => InstanceSpecValidator.NormalizeMac(mac)).Field);
    }

    [Fact]
    public void Volumes_need_an_id_and_a_source()
    {
        Assert.Equal("volume.VolumeId", Assert.Throws<InvalidSpecException>(() => InstanceSpecValidator.ValidateVolume(new VolumeSpec("", "/dev/x"))).Field);
        Assert.Equal("volume.Source", Assert.Throws<InvalidSpecException>(() => InstanceSpecValidator.ValidateVolume(new VolumeSpec("v", ""))).Field);
    }

    [Fact]
    public void Specs_compare_by_value_including_lists_and_metadata()
    {
        var a = Valid();
        var b = a with { Disks = [.. a.Disks], Metadata = new Dictionary<string, string>(a.Metadata) };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, a with { Metadata = new Dictionary<string, string> { ["owner"] = "other" } });
        Assert.NotEqual(a, a with { Disks = [new DiskSpec(11)] });
    }

    private static InstanceSpec Break(InstanceSpec spec, string problem) => problem switch
    {
        "empty id" => spec with { Id = Guid.Empty },
        "empty name" => spec with { Name = "" },
        "long name" => spec with { Name = new string('a', 64) },
        "markup name" => spec with { Name = "web-1</name>" },
        "dot name" => spec with { Name = ".hidden" },
        "zero vcpus" => spec with { VCpus = 0 },
        "many vcpus" => spec with { VCpus = 1025 },
        "tiny memory" => spec with { MemoryMiB = 15 },
        "huge memory" => spec with { MemoryMiB = InstanceSpecValidator.MaxMemoryMiB + 1 },
        "null disks" => spec with { Disks = null! },
        "too many disks" => spec with { Disks = [.. Enumerable.Repeat(new DiskSpec(1), 65)] },
        "null disk" => spec with { Disks = [null!] },
        "zero disk" => spec with { Disks = [new DiskSpec(0)] },
        "control image" => spec with { Disks = [new DiskSpec(1, "/images/\u0001")] },
        "empty network" => spec with { NetworkInterfaces = [new NetworkInterfaceSpec("")] },
        "bad mac" => spec with { NetworkInterfaces = [new NetworkInterfaceSpec("default", "52:54:00:12:34")] },
        "multicast mac" => spec with { NetworkInterfaces = [new NetworkInterfaceSpec("default", "01:00:5e:00:00:01")] },
        "duplicate mac" => spec with { NetworkInterfaces = [new NetworkInterfaceSpec("a", "52:54:00:12:34:56"), new NetworkInterfaceSpec("b", "52:54:00:12:34:56")] },
        "relative kernel" => spec with { KernelBoot = new KernelBootSpec("vmlinuz") },
        "relative initrd" => spec with { KernelBoot = new KernelBootSpec("/boot/vmlinuz", "initrd") },
        "long metadata key" => spec with { Metadata = new Dictionary<string, string> { [new string('k', 65)] = "v" } },
        "long metadata value" => spec with { Metadata = new Dictionary<string, string> { ["k"] = new string('v', 1025) } },
        "too much metadata" => spec with { Metadata = Enumerable.Range(0, 129).ToDictionary(i => "k" + i, i => "v") },
        _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, null),
    };
}
