using System.Reflection;

namespace Hypervisors.Tests;

public sealed class InstanceSpecEnvelopeTests
{
    private static InstanceSpec Full() => new()
    {
        Id = Guid.NewGuid(),
        Name = "vm-1",
        VCpus = 2,
        MemoryMiB = 512,
        Disks = [new DiskSpec(1), new DiskSpec(4, "/images/base.qcow2")],
        NetworkInterfaces = [new NetworkInterfaceSpec("default", "02:00:00:00:00:01"), new NetworkInterfaceSpec("br0")],
        KernelBoot = new KernelBootSpec("/boot/vmlinuz", "/boot/initrd", "console=ttyS0"),
        Metadata = new Dictionary<string, string> { ["b"] = "2", ["a"] = "1 \"quoted\" <x>" },
        StartAfterCreate = true,
    };

    [Fact]
    public void A_spec_survives_the_round_trip_equal()
    {
        var spec = Full();
        var text = InstanceSpecEnvelope.Serialize(spec);
        Assert.StartsWith("{\"version\":1,", text, StringComparison.Ordinal);
        var read = InstanceSpecEnvelope.Deserialize(text);
        Assert.Equal(spec, read);
        Assert.Equal(text, InstanceSpecEnvelope.Serialize(read));
    }

    [Fact]
    public void Metadata_order_does_not_change_the_text_or_the_fingerprint()
    {
        var spec = Full();
        var reordered = spec with { Metadata = new Dictionary<string, string> { ["a"] = spec.Metadata["a"], ["b"] = "2" } };
        Assert.Equal(InstanceSpecEnvelope.Serialize(spec), InstanceSpecEnvelope.Serialize(reordered));
        Assert.Equal(InstanceSpecEnvelope.Fingerprint(spec), InstanceSpecEnvelope.Fingerprint(reordered));
    }

    public static TheoryData<string> Properties => [.. typeof(InstanceSpec).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is not null && p.Name != "EqualityContract").Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Properties))]
    public void Every_spec_property_is_stored_and_compared(string property)
    {
        var spec = Full();
        var changed = Change(spec, property);
        Assert.NotEqual(spec, changed);
        Assert.NotEqual(InstanceSpecEnvelope.Serialize(spec), InstanceSpecEnvelope.Serialize(changed));
        Assert.NotEqual(InstanceSpecEnvelope.Fingerprint(spec), InstanceSpecEnvelope.Fingerprint(changed));
        Assert.Equal(changed, InstanceSpecEnvelope.Deserialize(InstanceSpecEnvelope.Serialize(changed)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"version\":2,\"spec\":{\"id\":\"6d3c2b0e-0000-0000-0000-000000000001\",\"name\":\"x\",\"vCpus\":1,\"memoryMiB\":64}}")]
    [InlineData("{\"version\":0,\"spec\":{\"id\":\"6d3c2b0e-0000-0000-0000-000000000001\",\"name\":\"x\",\"vCpus\":1,\"memoryMiB\":64}}")]
    [InlineData("{\"version\":1}")]
    public void Text_that_is_not_a_known_envelope_is_refused(string text)
    {
        Assert.False(InstanceSpecEnvelope.TryDeserialize(text, out _));
        if (text.Length > 0)
        {
            Assert.Throws<FormatException>(() => InstanceSpecEnvelope.Deserialize(text));
        }
    }

    private static InstanceSpec Change(InstanceSpec spec, string property) => property switch
    {
        nameof(InstanceSpec.Id) => spec with { Id = Guid.NewGuid() },
        nameof(InstanceSpec.Name) => spec with { Name = "vm-2" },
        nameof(InstanceSpec.VCpus) => spec with { VCpus = 3 },
        nameof(InstanceSpec.MemoryMiB) => spec with { MemoryMiB = 1024 },
        nameof(InstanceSpec.Disks) => spec with { Disks = [new DiskSpec(1), new DiskSpec(5, "/images/base.qcow2")] },
        nameof(InstanceSpec.NetworkInterfaces) => spec with { NetworkInterfaces = [new NetworkInterfaceSpec("default", "02:00:00:00:00:02"), new NetworkInterfaceSpec("br0")] },
        nameof(InstanceSpec.KernelBoot) => spec with { KernelBoot = spec.KernelBoot! with { CommandLine = "quiet" } },
        nameof(InstanceSpec.Metadata) => spec with { Metadata = new Dictionary<string, string> { ["a"] = "1", ["b"] = "3" } },
        nameof(InstanceSpec.StartAfterCreate) => spec with { StartAfterCreate = false },
        _ => throw new InvalidOperationException($"InstanceSpec.{property} is new: add it to this test (and check that Equals compares it)."),
    };
}
