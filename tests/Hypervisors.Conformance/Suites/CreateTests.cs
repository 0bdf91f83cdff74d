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

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(nameof(InstanceSpec.Name))]
    [InlineData(nameof(InstanceSpec.VCpus))]
    [InlineData(nameof(InstanceSpec.MemoryMiB))]
    [InlineData(nameof(InstanceSpec.Disks))]
    [InlineData(nameof(InstanceSpec.NetworkInterfaces))]
    [InlineData(nameof(InstanceSpec.KernelBoot))]
    [InlineData(nameof(InstanceSpec.Metadata))]
    [InlineData(nameof(InstanceSpec.StartAfterCreate))]
    public virtual async Task Create_is_idempotent_for_an_equal_spec_and_refuses_a_change_in_one_field(string field)
    {
        var kernel = field == nameof(InstanceSpec.KernelBoot) ? KernelForChange() : null;
        await using var instance = await CreateInstanceAsync(s => s with
        {
            Metadata = new Dictionary<string, string>(s.Metadata) { ["kit-a"] = "one", ["kit-b"] = "two" },
        });

        // An equal spec built as separate objects (new lists, new dictionary) is the same request.
        var again = await Driver.CreateInstanceAsync(Copy(instance.Spec), Ct);
        Assert.True(again.Id == instance.Id && again.Name == instance.Spec.Name, $"Repeating create with an equal copy of the spec returned {again.Id}/{again.Name}.");
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);

        var changed = Copy(instance.Spec);
        changed = field switch
        {
            nameof(InstanceSpec.Name) => changed with { Name = Fixture.NewName() },
            nameof(InstanceSpec.VCpus) => changed with { VCpus = changed.VCpus + 1 },
            nameof(InstanceSpec.MemoryMiB) => changed with { MemoryMiB = changed.MemoryMiB * 2 },
            nameof(InstanceSpec.Disks) => changed with { Disks = [.. changed.Disks, new DiskSpec(1)] },
            nameof(InstanceSpec.NetworkInterfaces) => changed with { NetworkInterfaces = [.. changed.NetworkInterfaces, new NetworkInterfaceSpec(Fixture.NetworkName, NewMacAddress())] },
            nameof(InstanceSpec.KernelBoot) => changed with { KernelBoot = changed.KernelBoot is null ? kernel : null },
            nameof(InstanceSpec.Metadata) => changed with { Metadata = new Dictionary<string, string>(changed.Metadata) { ["kit-b"] = "changed" } },
            nameof(InstanceSpec.StartAfterCreate) => changed with { StartAfterCreate = !changed.StartAfterCreate },
            _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Not an InstanceSpec field."),
        };
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(changed, Ct), $"create with the same id and a different {field}");
        var info = await Driver.GetInstanceAsync(instance.Id, Ct);
        Assert.True(info.PowerState == PowerState.Shutdown, $"A create refused for a different {field} left the instance {info.PowerState}.");
        Assert.True(info.Name == instance.Spec.Name && info.VCpus == instance.Spec.VCpus && info.MemoryMiB == instance.Spec.MemoryMiB,
            $"A create refused for a different {field} changed the instance to {info.Name}/{info.VCpus} vCPUs/{info.MemoryMiB} MiB.");
        Assert.Equal(instance.Spec.Metadata, info.Metadata.ToDictionary());
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task Non_default_sizes_and_metadata_read_back_through_get_and_list_in_every_state(PowerState state)
    {
        var metadata = new Dictionary<string, string> { ["kit"] = "sizes", ["state"] = state.ToString() };
        var vcpus = NonDefaultVCpus;
        await using var instance = await CreateInstanceInStateAsync(state, s => s with { VCpus = vcpus, MemoryMiB = s.MemoryMiB * 3, Metadata = metadata });
        var got = await Driver.GetInstanceAsync(instance.Id, Ct);
        var listed = Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
        foreach (var (info, source) in new[] { (got, "get"), (listed, "list") })
        {
            Assert.True(info.PowerState == state, $"{source} reported {info.PowerState} for an instance brought to {state}.");
            Assert.True(info.Name == instance.Spec.Name, $"{source} reported name {info.Name} in {state}.");
            Assert.True(info.VCpus == vcpus, $"{source} reported {info.VCpus} vCPUs in {state}; the spec asked for {vcpus}.");
            Assert.True(info.MemoryMiB == instance.Spec.MemoryMiB, $"{source} reported {info.MemoryMiB} MiB in {state}; the spec asked for {instance.Spec.MemoryMiB}.");
            Assert.True(metadata.Count == info.Metadata.Count && metadata.All(p => info.Metadata.TryGetValue(p.Key, out var v) && v == p.Value),
                $"{source} reported metadata {{{string.Join(", ", info.Metadata.Select(p => p.Key + "=" + p.Value))}}} in {state}.");
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData("longest key")]
    [InlineData("longest value")]
    [InlineData("empty value")]
    [InlineData("markup and quotes")]
    [InlineData("many entries")]
    public virtual async Task Metadata_at_its_limits_round_trips_unchanged(string limit)
    {
        var metadata = limit switch
        {
            "longest key" => new Dictionary<string, string> { [new string('k', 63) + "z"] = "v" },
            "longest value" => new Dictionary<string, string> { ["long"] = string.Concat(Enumerable.Range(0, 1024).Select(i => (char)('a' + (i % 26)))) },
            "empty value" => new Dictionary<string, string> { ["empty"] = string.Empty, ["kit"] = "conformance" },
            "markup and quotes" => new Dictionary<string, string> { ["xml"] = "<a b=\"c\">&amp; 'd' ]]> é ✓" },
            "many entries" => Enumerable.Range(0, 100).ToDictionary(i => "key-" + i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture), i => "value " + i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw new ArgumentOutOfRangeException(nameof(limit), limit, "Unknown case."),
        };
        await using var instance = await CreateInstanceAsync(s => s with { Metadata = metadata });
        var got = await Driver.GetInstanceAsync(instance.Id, Ct);
        var listed = Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Id == instance.Id);
        foreach (var (info, source) in new[] { (instance.Created, "create"), (got, "get"), (listed, "list") })
        {
            var lost = metadata.Where(p => !info.Metadata.TryGetValue(p.Key, out var v) || v != p.Value).Select(p => p.Key).ToList();
            Assert.True(lost.Count == 0 && info.Metadata.Count == metadata.Count,
                $"With {limit}, {source} returned {info.Metadata.Count} of {metadata.Count} metadata entries; wrong or missing: {string.Join(", ", lost.Take(5).Select(k => k.Length > 20 ? k[..20] + "..." : k))}.");
        }
    }

    [Theory(Timeout = KitLimits.TestTimeoutMilliseconds)]
    [InlineData(PowerState.Shutdown)]
    [InlineData(PowerState.Running)]
    [InlineData(PowerState.Paused)]
    [InlineData(PowerState.Suspended)]
    public virtual async Task A_name_held_by_an_instance_in_any_state_is_refused_and_the_holder_is_untouched(PowerState state)
    {
        await using var holder = await CreateInstanceInStateAsync(state);
        var clash = NewSpec(s => s with { Name = holder.Spec.Name });
        await using var guard = CleanupGuard(clash);
        await KitAssert.ThrowsAsync<InstanceAlreadyExistsException>(() => Driver.CreateInstanceAsync(clash, Ct), $"create with the name of a {state} instance");
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(clash.Id, Ct), $"GetInstanceAsync of the id refused for a {state} instance's name");
        await KitAssert.PowerStateIsAsync(Driver, holder.Id, state, $"a create refused for the name of a {state} instance", Ct);
        Assert.Single(await Driver.ListInstancesAsync(Ct), i => i.Name == holder.Spec.Name);
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
        var vcpus = NonDefaultVCpus;
        await using var instance = await CreateInstanceAsync(s => s with { VCpus = vcpus, MemoryMiB = s.MemoryMiB * 2 });
        foreach (var (info, source) in new[] { (instance.Created, "create"), (await Driver.GetInstanceAsync(instance.Id, Ct), "get") })
        {
            Assert.True(info.Id == instance.Id, $"{source} reported id {info.Id}.");
            Assert.True(info.Name == instance.Spec.Name, $"{source} reported name {info.Name}.");
            Assert.True(info.VCpus == vcpus, $"{source} reported {info.VCpus} vCPUs; the spec asked for {vcpus}.");
            Assert.True(info.MemoryMiB == instance.Spec.MemoryMiB, $"{source} reported {info.MemoryMiB} MiB; the spec asked for {instance.Spec.MemoryMiB}.");
        }
    }

    [Fact(Timeout = KitLimits.TestTimeoutMilliseconds)]
    public virtual async Task A_spec_above_the_declared_vcpu_limit_is_refused_naming_the_field_and_creates_nothing()
    {
        if (Fixture.MaxVCpus is not { } max)
        {
            Assert.Skip("The fixture declares no vCPU limit (MaxVCpus).");
            return;
        }

        var spec = NewSpec(s => s with { VCpus = max + 1 });
        await using var _ = CleanupGuard(spec);
        var ex = await KitAssert.ThrowsAsync<InvalidSpecException>(() => Driver.CreateInstanceAsync(spec, Ct), $"create with {max + 1} vCPUs (the declared limit is {max})");
        Assert.Equal("spec.VCpus", ex.Field);
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct), "GetInstanceAsync after a create above the vCPU limit");
        Assert.DoesNotContain(await Driver.ListInstancesAsync(Ct), i => i.Id == spec.Id);
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

    /// <summary>A spec equal to <paramref name="spec"/> made of new objects throughout.</summary>
    protected static InstanceSpec Copy(InstanceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec with
        {
            Name = new string(spec.Name.AsSpan()),
            Disks = spec.Disks.Select(d => d with { }).ToList(),
            NetworkInterfaces = spec.NetworkInterfaces.Select(n => n with { }).ToList(),
            KernelBoot = spec.KernelBoot is null ? null : spec.KernelBoot with { },
            Metadata = new Dictionary<string, string>(spec.Metadata),
        };
    }

    private KernelBootSpec KernelForChange()
    {
        RequireCapability(Capabilities.SupportsKernelBoot, nameof(DriverCapabilities.SupportsKernelBoot));
        return Fixture.KernelBoot ?? new KernelBootSpec("/var/lib/hypervisors-kit/vmlinuz");
    }

    private async Task AssertCreateRefusedAsync(InstanceSpec spec, string capability)
    {
        await using var guard = CleanupGuard(spec);
        await KitAssert.NotSupportedAsync(() => Driver.CreateInstanceAsync(spec, Ct), capability, InstanceOperation.Create);
        await KitAssert.ThrowsAsync<InstanceNotFoundException>(() => Driver.GetInstanceAsync(spec.Id, Ct), $"GetInstanceAsync after a create refused for {capability}");
    }
}
