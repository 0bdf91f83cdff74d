namespace Hypervisors.Conformance;

/// <summary>Create: idempotent on the id, conflicts refused, invalid specs refused with the field named, metadata kept.</summary>
public abstract class CreateTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact]
    public virtual async Task Creating_the_same_spec_twice_returns_the_same_instance_listed_once()
    {
        await using var instance = await CreateInstanceAsync();
        var again = await Driver.CreateInstanceAsync(instance.Spec, Ct);
        Assert.Equal(instance.Id, again.Id);
        Assert.Equal(instance.Spec.Name, again.Name);
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
    }

    [Fact]
    public virtual async Task Creating_a_different_spec_under_an_existing_id_throws_already_exists()
    {
        await using var instance = await CreateInstanceAsync();
        var changed = instance.Spec with { VCpus = instance.Spec.VCpus + 1 };
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(changed, Ct), "create with the same id and a different spec");
        var info = await Driver.GetInstanceAsync(instance.Id, Ct);
        Assert.Equal(instance.Spec.VCpus, info.VCpus);
    }

    [Fact]
    public virtual async Task Creating_with_another_instances_name_throws_already_exists()
    {
        await using var instance = await CreateInstanceAsync();
        var clash = NewSpec(s => s with { Name = instance.Spec.Name });
        await using var _ = CleanupGuard(clash);
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(clash, Ct), "create with another instance's name");
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(clash.Id, Ct), "GetInstanceAsync of the refused id");
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Name == instance.Spec.Name);
    }

    [Theory]
    [InlineData("empty name", "spec.Name")]
    [InlineData("markup in name", "spec.Name")]
    [InlineData("zero vCPUs", "spec.VCpus")]
    [InlineData("too little memory", "spec.MemoryMiB")]
    [InlineData("malformed MAC", "spec.NetworkInterfaces[0].MacAddress")]
    public virtual async Task Invalid_specs_throw_invalid_spec_naming_the_field_and_create_nothing(string problem, string field)
    {
        var spec = NewSpec(s => problem switch
        {
            "empty name" => s with { Name = string.Empty },
            "markup in name" => s with { Name = s.Name + "</name><x>" },
            "zero vCPUs" => s with { VCpus = 0 },
            "too little memory" => s with { MemoryMiB = 1 },
            "malformed MAC" => s with { NetworkInterfaces = [new NetworkInterfaceSpec(Fixture.NetworkName, "52:54:00:zz:00:01")] },
            _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, "Unknown case."),
        });
        await using var _ = CleanupGuard(spec);
        var ex = await KitAssert.ThrowsAsync<InvalidSpecException>(() => Driver.CreateInstanceAsync(spec, Ct), $"create with {problem}");
        Assert.Equal(field, ex.Field);
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct), $"GetInstanceAsync after a create with {problem}");
        Assert.DoesNotContain(await Driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
    }

    [Fact]
    public virtual async Task Metadata_given_at_create_is_returned_by_get_and_list()
    {
        var metadata = new Dictionary<string, string> { ["kit"] = "conformance", ["owner"] = "tenant-42", ["flavor"] = "m1.tiny" };
        await using var instance = await CreateInstanceAsync(s => s with { Metadata = metadata });
        var got = await Driver.GetInstanceAsync(instance.Id, Ct);
        var listed = Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
        Assert.Equal(metadata, got.Metadata.ToDictionary());
        Assert.Equal(metadata, listed.Metadata.ToDictionary());
        Assert.Equal(metadata, instance.Created.Metadata.ToDictionary());
    }

    [Fact]
    public virtual async Task Instance_info_reports_the_name_vcpus_and_memory_of_the_spec()
    {
        await using var instance = await CreateInstanceAsync(s => s with { VCpus = 2, MemoryMiB = s.MemoryMiB * 2 });
        foreach (var (info, source) in new[] { (instance.Created, "create"), (await Driver.GetInstanceAsync(instance.Id, Ct), "get") })
        {
            Assert.True(info.Id == instance.Id, $"{source} reported id {info.Id}.");
            Assert.True(info.Name == instance.Spec.Name, $"{source} reported name {info.Name}.");
            Assert.True(info.VCpus == 2, $"{source} reported {info.VCpus} vCPUs; the spec asked for 2.");
            Assert.True(info.MemoryMiB == instance.Spec.MemoryMiB, $"{source} reported {info.MemoryMiB} MiB; the spec asked for {instance.Spec.MemoryMiB}.");
        }
    }
}
