using System.Globalization;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Mapping;

/// <summary>Between the contract's specs and infos and XenAPI's VM records.</summary>
internal static class VmRecords
{
    /// <summary>The <c>other_config</c> key holding the caller's instance id.</summary>
    public const string InstanceIdKey = "hypervisors_instance_id";

    /// <summary>The <c>other_config</c> key holding the spec the VM was created from (<see cref="InstanceSpecEnvelope"/> text), for idempotent create.</summary>
    public const string SpecKey = "hypervisors_spec";

    /// <summary>The prefix of <c>other_config</c> keys holding the caller's metadata.</summary>
    public const string MetadataPrefix = "hypervisors_meta:";

    /// <summary>The <c>other_config</c> key that marks a VBD as an attached volume and holds its id.</summary>
    public const string VolumeIdKey = "hypervisors_volume_id";

    private const long MiB = 1024 * 1024;

    /// <summary>Whether a record is an instance this driver manages (not a template, snapshot or dom0, and tagged).</summary>
    public static bool TryGetInstanceId(Dictionary<string, object?> record, out Guid id)
    {
        id = Guid.Empty;
        if (IsTrue(record, "is_a_template") || IsTrue(record, "is_control_domain") || IsTrue(record, "is_a_snapshot"))
        {
            return false;
        }

        return record.TryGetValue("other_config", out var config)
            && config is Dictionary<string, object?> map
            && map.TryGetValue(InstanceIdKey, out var text)
            && Guid.TryParse(XenValue.ToText(text), out id);
    }

    /// <summary>The contract's view of a VM record.</summary>
    public static InstanceInfo ToInstanceInfo(Guid id, string vmRef, Dictionary<string, object?> record)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (record.GetValueOrDefault("other_config") is Dictionary<string, object?> config)
        {
            foreach (var (key, value) in config)
            {
                if (key.StartsWith(MetadataPrefix, StringComparison.Ordinal))
                {
                    metadata[key[MetadataPrefix.Length..]] = XenValue.ToText(value);
                }
            }
        }

        return new InstanceInfo(
            id,
            XenValue.ToText(XenValue.Member(record, "name_label")),
            XenPowerStates.Parse(XenValue.ToText(XenValue.Member(record, "power_state"))),
            (int)XenValue.ToInt64(XenValue.Member(record, "VCPUs_max")),
            XenValue.ToInt64(XenValue.Member(record, "memory_static_max")) / MiB,
            TimeSpan.Zero)
        {
            NativeId = vmRef,
            Metadata = metadata,
        };
    }

    /// <summary>The contract's view of a VM the driver has just created from <paramref name="spec"/>: what was set and confirmed, with no read-back.</summary>
    public static InstanceInfo ToInstanceInfo(InstanceSpec spec, string vmRef, PowerState state) =>
        new(spec.Id, spec.Name, state, spec.VCpus, spec.MemoryMiB, TimeSpan.Zero)
        {
            NativeId = vmRef,
            Metadata = new Dictionary<string, string>(spec.Metadata, StringComparer.Ordinal),
        };

    /// <summary>The power state in a record.</summary>
    public static PowerState PowerStateOf(Dictionary<string, object?> record) =>
        XenPowerStates.Parse(XenValue.ToText(record.GetValueOrDefault("power_state")));

    /// <summary>The spec stored on a VM record, or null when it has none the driver can read.</summary>
    public static InstanceSpec? StoredSpec(Dictionary<string, object?> record) =>
        record.GetValueOrDefault("other_config") is Dictionary<string, object?> config
        && config.GetValueOrDefault(SpecKey) is { } text
        && InstanceSpecEnvelope.TryDeserialize(XenValue.ToText(text), out var spec)
            ? spec
            : null;

    /// <summary>The <c>other_config</c> the driver writes on a VM: id, the spec's envelope, metadata.</summary>
    public static Dictionary<string, string> OtherConfig(InstanceSpec spec)
    {
        var config = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [InstanceIdKey] = spec.Id.ToString("D"),
            [SpecKey] = InstanceSpecEnvelope.Serialize(spec),
        };
        foreach (var (key, value) in spec.Metadata)
        {
            config[MetadataPrefix + key] = value;
        }

        return config;
    }

    /// <summary>The record for <c>VM.create</c> of a blank HVM guest.</summary>
    public static Dictionary<string, object?> NewVmRecord(InstanceSpec spec)
    {
        var memory = (spec.MemoryMiB * MiB).ToString(CultureInfo.InvariantCulture);
        var vcpus = spec.VCpus.ToString(CultureInfo.InvariantCulture);
        var empty = new Dictionary<string, string>();
        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["name_label"] = spec.Name,
            ["name_description"] = "Created by the Hypervisors SDK",
            ["user_version"] = "1",
            ["is_a_template"] = false,
            ["affinity"] = XenValue.NullRef,
            ["memory_static_max"] = memory,
            ["memory_dynamic_max"] = memory,
            ["memory_dynamic_min"] = memory,
            ["memory_static_min"] = memory,
            ["VCPUs_params"] = empty,
            ["VCPUs_max"] = vcpus,
            ["VCPUs_at_startup"] = vcpus,
            ["actions_after_shutdown"] = "destroy",
            ["actions_after_reboot"] = "restart",
            ["actions_after_crash"] = "restart",
            ["PV_bootloader"] = string.Empty,
            ["PV_kernel"] = string.Empty,
            ["PV_ramdisk"] = string.Empty,
            ["PV_args"] = string.Empty,
            ["PV_bootloader_args"] = string.Empty,
            ["PV_legacy_args"] = string.Empty,
            ["HVM_boot_policy"] = "BIOS order",
            ["HVM_boot_params"] = new Dictionary<string, string> { ["order"] = "dc" },
            ["HVM_shadow_multiplier"] = 1.0,
            ["platform"] = new Dictionary<string, string> { ["acpi"] = "1", ["apic"] = "true", ["pae"] = "true", ["viridian"] = "true" },
            ["PCI_bus"] = string.Empty,
            ["other_config"] = OtherConfig(spec),
            ["recommendations"] = string.Empty,
            ["xenstore_data"] = empty,
            ["ha_always_run"] = false,
            ["ha_restart_priority"] = string.Empty,
            ["tags"] = Array.Empty<string>(),
            ["blocked_operations"] = empty,
            ["protection_policy"] = XenValue.NullRef,
            ["is_snapshot_from_vmpp"] = false,
            ["appliance"] = XenValue.NullRef,
            ["start_delay"] = "0",
            ["shutdown_delay"] = "0",
            ["order"] = "0",
            ["suspend_SR"] = XenValue.NullRef,
            ["version"] = "0",
            ["generation_id"] = string.Empty,
            ["hardware_platform_version"] = "0",
            ["has_vendor_device"] = false,
            ["reference_label"] = string.Empty,
            ["domain_type"] = "hvm",
            ["NVRAM"] = empty,
        };
    }

    private static bool IsTrue(Dictionary<string, object?> record, string field) =>
        record.TryGetValue(field, out var value) && value is not null && XenValue.ToBoolean(value);
}
