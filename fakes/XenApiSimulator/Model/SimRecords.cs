namespace XenApiSimulator.Model;

/// <summary>
/// Full records as xapi returns them, with XenAPI's field names and defaults (ocaml/idl/datamodel*.ml). Integers
/// are <see cref="long"/> (xapi sends them as decimal strings over XML-RPC, numbers over JSON-RPC), references are
/// <c>OpaqueRef:</c> strings, sets are string arrays and maps are string dictionaries.
/// </summary>
public static class SimRecords
{
    public const string NullRef = "OpaqueRef:NULL";

    private static readonly DateTime Epoch = new(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>A VM record with every field at xapi's default, then <paramref name="given"/> laid over it.</summary>
    public static Dictionary<string, object?> Vm(IReadOnlyDictionary<string, object?>? given = null)
    {
        var record = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["uuid"] = Guid.NewGuid().ToString("D"),
            ["allowed_operations"] = Array.Empty<string>(),
            ["current_operations"] = new Dictionary<string, string>(),
            ["name_label"] = string.Empty,
            ["name_description"] = string.Empty,
            ["power_state"] = "Halted",
            ["user_version"] = 1L,
            ["is_a_template"] = false,
            ["is_default_template"] = false,
            ["suspend_VDI"] = NullRef,
            ["resident_on"] = NullRef,
            ["scheduled_to_be_resident_on"] = NullRef,
            ["affinity"] = NullRef,
            ["memory_overhead"] = 1048576L,
            ["memory_target"] = 0L,
            ["memory_static_max"] = 268435456L,
            ["memory_dynamic_max"] = 268435456L,
            ["memory_dynamic_min"] = 268435456L,
            ["memory_static_min"] = 268435456L,
            ["VCPUs_params"] = new Dictionary<string, string>(),
            ["VCPUs_max"] = 1L,
            ["VCPUs_at_startup"] = 1L,
            ["actions_after_softreboot"] = "soft_reboot",
            ["actions_after_shutdown"] = "destroy",
            ["actions_after_reboot"] = "restart",
            ["actions_after_crash"] = "restart",
            ["consoles"] = Array.Empty<string>(),
            ["VIFs"] = Array.Empty<string>(),
            ["VBDs"] = Array.Empty<string>(),
            ["VUSBs"] = Array.Empty<string>(),
            ["crash_dumps"] = Array.Empty<string>(),
            ["VTPMs"] = Array.Empty<string>(),
            ["PV_bootloader"] = string.Empty,
            ["PV_kernel"] = string.Empty,
            ["PV_ramdisk"] = string.Empty,
            ["PV_args"] = string.Empty,
            ["PV_bootloader_args"] = string.Empty,
            ["PV_legacy_args"] = string.Empty,
            ["HVM_boot_policy"] = "BIOS order",
            ["HVM_boot_params"] = new Dictionary<string, string> { ["order"] = "cd" },
            ["HVM_shadow_multiplier"] = 1.0,
            ["platform"] = new Dictionary<string, string>(),
            ["PCI_bus"] = string.Empty,
            ["other_config"] = new Dictionary<string, string>(),
            ["domid"] = -1L,
            ["domarch"] = string.Empty,
            ["last_boot_CPU_flags"] = new Dictionary<string, string>(),
            ["is_control_domain"] = false,
            ["metrics"] = NullRef,
            ["guest_metrics"] = NullRef,
            ["last_booted_record"] = string.Empty,
            ["recommendations"] = string.Empty,
            ["xenstore_data"] = new Dictionary<string, string>(),
            ["ha_always_run"] = false,
            ["ha_restart_priority"] = string.Empty,
            ["is_a_snapshot"] = false,
            ["snapshot_of"] = NullRef,
            ["snapshots"] = Array.Empty<string>(),
            ["snapshot_time"] = Epoch,
            ["transportable_snapshot_id"] = string.Empty,
            ["blobs"] = new Dictionary<string, string>(),
            ["tags"] = Array.Empty<string>(),
            ["blocked_operations"] = new Dictionary<string, string>(),
            ["snapshot_info"] = new Dictionary<string, string>(),
            ["snapshot_metadata"] = string.Empty,
            ["parent"] = NullRef,
            ["children"] = Array.Empty<string>(),
            ["bios_strings"] = new Dictionary<string, string>(),
            ["protection_policy"] = NullRef,
            ["is_snapshot_from_vmpp"] = false,
            ["snapshot_schedule"] = NullRef,
            ["is_vmss_snapshot"] = false,
            ["appliance"] = NullRef,
            ["start_delay"] = 0L,
            ["shutdown_delay"] = 0L,
            ["order"] = 0L,
            ["VGPUs"] = Array.Empty<string>(),
            ["attached_PCIs"] = Array.Empty<string>(),
            ["suspend_SR"] = NullRef,
            ["version"] = 0L,
            ["generation_id"] = string.Empty,
            ["hardware_platform_version"] = 0L,
            ["has_vendor_device"] = false,
            ["requires_reboot"] = false,
            ["reference_label"] = string.Empty,
            ["domain_type"] = "hvm",
            ["NVRAM"] = new Dictionary<string, string>(),
            ["pending_guidances"] = Array.Empty<string>(),
        };
        if (given is not null)
        {
            foreach (var (key, value) in given)
            {
                record[key] = value;
            }
        }

        return record;
    }

    /// <summary>A VM_metrics record as VM.create makes it (datamodel.ml, VM_metrics), for a VM without a domain.</summary>
    public static Dictionary<string, object?> VmMetrics(DateTime now) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["memory_actual"] = 0L,
        ["VCPUs_number"] = 0L,
        ["VCPUs_utilisation"] = new Dictionary<string, string>(),
        ["VCPUs_CPU"] = new Dictionary<string, string>(),
        ["VCPUs_params"] = new Dictionary<string, string>(),
        ["VCPUs_flags"] = new Dictionary<string, string>(),
        ["state"] = Array.Empty<string>(),
        ["start_time"] = Epoch,
        ["install_time"] = now,
        ["last_updated"] = Epoch,
        ["other_config"] = new Dictionary<string, string>(),
        ["hvm"] = false,
        ["nested_virt"] = false,
        ["nomigrate"] = false,
        ["current_domain_type"] = "unspecified",
        ["numa_optimised"] = false,
        ["numa_nodes"] = 0L,
        ["numa_node_memory"] = new Dictionary<string, string>(),
    };

    /// <summary>
    /// A VM_guest_metrics record (datamodel.ml, VM_guest_metrics) as xapi creates it for a running guest: empty
    /// driver version and features for a guest without PV drivers.
    /// </summary>
    public static Dictionary<string, object?> VmGuestMetrics(DateTime now, Dictionary<string, string> driversVersion, Dictionary<string, string> other, bool driversDetected) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["os_version"] = driversDetected ? new Dictionary<string, string> { ["distro"] = "debian", ["major"] = "12", ["name"] = "Debian GNU/Linux 12" } : new Dictionary<string, string>(),
        ["netbios_name"] = new Dictionary<string, string>(),
        ["PV_drivers_version"] = driversVersion,
        ["PV_drivers_up_to_date"] = driversDetected,
        ["memory"] = new Dictionary<string, string>(),
        ["disks"] = new Dictionary<string, string>(),
        ["networks"] = new Dictionary<string, string>(),
        ["other"] = other,
        ["last_updated"] = now,
        ["other_config"] = new Dictionary<string, string>(),
        ["live"] = driversDetected,
        ["can_use_hotplug_vbd"] = "unspecified",
        ["can_use_hotplug_vif"] = "unspecified",
        ["PV_drivers_detected"] = driversDetected,
        ["services"] = new Dictionary<string, string>(),
    };

    public static Dictionary<string, object?> Vdi(string sr, string name, long virtualSize) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["name_label"] = name,
        ["name_description"] = string.Empty,
        ["allowed_operations"] = Array.Empty<string>(),
        ["current_operations"] = new Dictionary<string, string>(),
        ["SR"] = sr,
        ["VBDs"] = Array.Empty<string>(),
        ["crash_dumps"] = Array.Empty<string>(),
        ["virtual_size"] = virtualSize,
        ["physical_utilisation"] = 0L,
        ["type"] = "user",
        ["sharable"] = false,
        ["read_only"] = false,
        ["other_config"] = new Dictionary<string, string>(),
        ["storage_lock"] = false,
        ["location"] = Guid.NewGuid().ToString("D"),
        ["managed"] = true,
        ["missing"] = false,
        ["parent"] = NullRef,
        ["xenstore_data"] = new Dictionary<string, string>(),
        ["sm_config"] = new Dictionary<string, string>(),
        ["is_a_snapshot"] = false,
        ["snapshot_of"] = NullRef,
        ["snapshots"] = Array.Empty<string>(),
        ["snapshot_time"] = Epoch,
        ["tags"] = Array.Empty<string>(),
        ["allow_caching"] = false,
        ["on_boot"] = "persist",
        ["metadata_of_pool"] = NullRef,
        ["metadata_latest"] = false,
        ["is_tools_iso"] = false,
        ["cbt_enabled"] = false,
    };

    public static Dictionary<string, object?> Vbd(string vm, string vdi, string userdevice) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["allowed_operations"] = Array.Empty<string>(),
        ["current_operations"] = new Dictionary<string, string>(),
        ["VM"] = vm,
        ["VDI"] = vdi,
        ["device"] = string.Empty,
        ["userdevice"] = userdevice,
        ["bootable"] = false,
        ["mode"] = "RW",
        ["type"] = "Disk",
        ["unpluggable"] = true,
        ["storage_lock"] = false,
        ["empty"] = false,
        ["other_config"] = new Dictionary<string, string>(),
        ["currently_attached"] = false,
        ["status_code"] = 0L,
        ["status_detail"] = string.Empty,
        ["runtime_properties"] = new Dictionary<string, string>(),
        ["qos_algorithm_type"] = string.Empty,
        ["qos_algorithm_params"] = new Dictionary<string, string>(),
        ["qos_supported_algorithms"] = Array.Empty<string>(),
        ["metrics"] = NullRef,
    };

    public static Dictionary<string, object?> Vif(string vm, string network, string device, string mac) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["allowed_operations"] = Array.Empty<string>(),
        ["current_operations"] = new Dictionary<string, string>(),
        ["device"] = device,
        ["network"] = network,
        ["VM"] = vm,
        ["MAC"] = mac,
        ["MTU"] = 1500L,
        ["other_config"] = new Dictionary<string, string>(),
        ["currently_attached"] = false,
        ["status_code"] = 0L,
        ["status_detail"] = string.Empty,
        ["runtime_properties"] = new Dictionary<string, string>(),
        ["qos_algorithm_type"] = string.Empty,
        ["qos_algorithm_params"] = new Dictionary<string, string>(),
        ["qos_supported_algorithms"] = Array.Empty<string>(),
        ["metrics"] = NullRef,
        ["MAC_autogenerated"] = false,
        ["locking_mode"] = "network_default",
        ["ipv4_allowed"] = Array.Empty<string>(),
        ["ipv6_allowed"] = Array.Empty<string>(),
    };

    public static Dictionary<string, object?> Task(string name, string host, DateTime created) => new(StringComparer.Ordinal)
    {
        ["uuid"] = Guid.NewGuid().ToString("D"),
        ["name_label"] = name,
        ["name_description"] = string.Empty,
        ["allowed_operations"] = new[] { "cancel" },
        ["current_operations"] = new Dictionary<string, string>(),
        ["created"] = created,
        ["finished"] = Epoch,
        ["status"] = "pending",
        ["resident_on"] = host,
        ["progress"] = 0.0,
        ["type"] = string.Empty,
        ["result"] = string.Empty,
        ["error_info"] = Array.Empty<string>(),
        ["other_config"] = new Dictionary<string, string>(),
        ["subtask_of"] = NullRef,
        ["subtasks"] = Array.Empty<string>(),
        ["backtrace"] = "()",
    };
}
