namespace Hypervisors.Conformance;

/// <summary>Create: idempotent on the id, conflicts refused, invalid specs refused with the field named, metadata kept.</summary>
public abstract class CreateTests<TFixture>(TFixture fixture) : DriverSuite<TFixture>(fixture)
    where TFixture : DriverFixture
{
    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Creating_the_same_spec_twice_returns_the_same_instance_listed_once()
    {
        await using var instance = await CreateInstanceAsync();
        var again = await Driver.CreateInstanceAsync(instance.Spec, Ct);
        Assert.Equal(instance.Id, again.Id);
        Assert.Equal(instance.Spec.Name, again.Name);
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Creating_a_different_spec_under_an_existing_id_throws_already_exists()
    {
        await using var instance = await CreateInstanceAsync();
        var changed = instance.Spec with { VCpus = instance.Spec.VCpus + 1 };
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(changed, Ct), "create with the same id and a different spec");
        var info = await Driver.GetInstanceAsync(instance.Id, Ct);
        Assert.Equal(instance.Spec.VCpus, info.VCpus);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Creating_with_another_instances_name_throws_already_exists()
    {
        await using var instance = await CreateInstanceAsync();
        var clash = NewSpec(s => s with { Name = instance.Spec.Name });
        await using var _ = CleanupGuard(clash);
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(clash, Ct), "create with another instance's name");
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(clash.Id, Ct), "GetInstanceAsync of the refused id");
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Name == instance.Spec.Name);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_deleted_instances_name_can_be_used_again()
    {
        await using var first = await CreateInstanceAsync();
        await Driver.DeleteInstanceAsync(first.Id, Ct);
        await using var second = await CreateInstanceAsync(s => s with { Name = first.Spec.Name });
        Assert.Equal(first.Spec.Name, (await Driver.GetInstanceAsync(second.Id, Ct)).Name);
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
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

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
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

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
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

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_disk_from_an_image_is_created_when_the_driver_declares_image_disks()
    {
        RequireCapability(Capabilities.SupportsImageDisks, nameof(DriverCapabilities.SupportsImageDisks));
        var image = Fixture.ImageRef;
        if (image is null)
        {
            Assert.Skip("The fixture gives no ImageRef to create a disk from.");
            return;
        }

        await using var instance = await CreateInstanceAsync(s => s with { Disks = [new DiskSpec(1, image), .. s.Disks] });
        Assert.Equal(PowerState.Shutdown, instance.Created.PowerState);
        if (Capabilities.SupportsDeviceListing)
        {
            var disks = (await Driver.GetDevicesAsync(instance.Id, Ct)).Disks;
            Assert.Equal(instance.Spec.Disks.Count, disks.Count);
            Assert.Contains(disks, d => d.ImageRef == image);
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_kernel_boot_instance_is_created_and_started_when_the_driver_declares_kernel_boot()
    {
        RequireCapability(Capabilities.SupportsKernelBoot, nameof(DriverCapabilities.SupportsKernelBoot));
        var kernel = Fixture.KernelBoot;
        if (kernel is null)
        {
            Assert.Skip("The fixture gives no KernelBoot to boot.");
            return;
        }

        await using var instance = await CreateInstanceAsync(s => s with { KernelBoot = kernel });
        await Driver.StartInstanceAsync(instance.Id, Ct);
        await KitAssert.PowerStateIsAsync(Driver, instance.Id, PowerState.Running, "starting a kernel-boot instance", Ct);
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task Create_features_declared_unsupported_throw_operation_not_supported_and_create_nothing()
    {
        if (Capabilities is { SupportsImageDisks: true, SupportsKernelBoot: true })
        {
            Assert.Skip("The driver declares image disks and kernel boot; nothing to refuse.");
        }

        if (!Capabilities.SupportsImageDisks)
        {
            var spec = NewSpec(s => s with { Disks = [new DiskSpec(1, Fixture.ImageRef ?? "/var/lib/hypervisors-kit/base.img")] });
            await AssertCreateRefusedAsync(spec, nameof(DriverCapabilities.SupportsImageDisks));
        }

        if (!Capabilities.SupportsKernelBoot)
        {
            var spec = NewSpec(s => s with { KernelBoot = Fixture.KernelBoot ?? new KernelBootSpec("/var/lib/hypervisors-kit/vmlinuz") });
            await AssertCreateRefusedAsync(spec, nameof(DriverCapabilities.SupportsKernelBoot));
        }
    }

    private async Task AssertCreateRefusedAsync(InstanceSpec spec, string capability)
    {
        await using var guard = CleanupGuard(spec);
        await KitAssert.NotSupportedAsync(() => Driver.CreateInstanceAsync(spec, Ct), capability, InstanceOperation.Create);
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct), $"GetInstanceAsync after a create refused for {capability}");
    }
}
