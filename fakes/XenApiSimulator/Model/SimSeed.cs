using System.Globalization;

namespace XenApiSimulator.Model;

/// <summary>The objects a fresh simulated pool has: pool, host with metrics and CPUs, SR, network, dom0, a template.</summary>
internal static class SimSeed
{
    public static void Populate(SimDatabase db, XenApiSimulatorOptions options)
    {
        var now = db.Clock.GetUtcNow();
        var hostRef = SimDatabase.NewRef();
        var metrics = db.Add("host_metrics", new Dictionary<string, object?>
        {
            ["memory_total"] = options.HostMemoryBytes,
            ["memory_free"] = options.HostMemoryBytes - (1L << 30), // dom0 below holds 1 GiB
            ["live"] = true,
            ["last_updated"] = now.UtcDateTime,
            ["other_config"] = new Dictionary<string, string>(),
        });
        var cpuInfo = new Dictionary<string, string>
        {
            ["cpu_count"] = options.CpuCount.ToString(CultureInfo.InvariantCulture),
            ["socket_count"] = options.SocketCount.ToString(CultureInfo.InvariantCulture),
            ["vendor"] = "GenuineIntel",
            ["speed"] = "2394.454",
            ["modelname"] = "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
            ["family"] = "6",
            ["model"] = "79",
            ["stepping"] = "1",
        };
        var cpus = new List<string>();
        for (var i = 0; i < options.CpuCount; i++)
        {
            cpus.Add(db.Add("host_cpu", new Dictionary<string, object?>
            {
                ["host"] = hostRef,
                ["number"] = (long)i,
                ["vendor"] = cpuInfo["vendor"],
                ["speed"] = 2394L,
                ["modelname"] = cpuInfo["modelname"],
                ["family"] = 6L,
                ["model"] = 79L,
                ["stepping"] = "1",
                ["flags"] = "fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush mmx fxsr sse sse2 ht syscall nx lm",
                ["features"] = string.Empty,
                ["utilisation"] = 0.0,
                ["other_config"] = new Dictionary<string, string>(),
            }).Ref);
        }

        var sr = db.Add("SR", new Dictionary<string, object?>
        {
            ["name_label"] = options.StorageName,
            ["name_description"] = string.Empty,
            ["allowed_operations"] = Array.Empty<string>(),
            ["current_operations"] = new Dictionary<string, string>(),
            ["VDIs"] = Array.Empty<string>(),
            ["PBDs"] = Array.Empty<string>(),
            ["virtual_allocation"] = 0L,
            ["physical_utilisation"] = 0L,
            ["physical_size"] = options.StorageBytes,
            ["type"] = "lvm",
            ["content_type"] = "user",
            ["shared"] = false,
            ["other_config"] = new Dictionary<string, string>(),
            ["tags"] = Array.Empty<string>(),
            ["sm_config"] = new Dictionary<string, string>(),
            ["blobs"] = new Dictionary<string, string>(),
            ["local_cache_enabled"] = false,
            ["is_tools_sr"] = false,
        });
        db.Add("network", new Dictionary<string, object?>
        {
            ["name_label"] = options.NetworkName,
            ["name_description"] = string.Empty,
            ["allowed_operations"] = Array.Empty<string>(),
            ["current_operations"] = new Dictionary<string, string>(),
            ["VIFs"] = Array.Empty<string>(),
            ["PIFs"] = Array.Empty<string>(),
            ["MTU"] = 1500L,
            ["other_config"] = new Dictionary<string, string>(),
            ["bridge"] = "xenbr0",
            ["managed"] = true,
            ["blobs"] = new Dictionary<string, string>(),
            ["tags"] = Array.Empty<string>(),
            ["default_locking_mode"] = "unlocked",
        });
        var dom0Record = SimRecords.Vm(new Dictionary<string, object?>
        {
            ["name_label"] = "Control domain on host: " + options.HostName,
            ["is_control_domain"] = true,
            ["power_state"] = "Running",
            ["memory_static_max"] = 1L << 30,
            ["memory_dynamic_max"] = 1L << 30,
            ["memory_dynamic_min"] = 1L << 30,
            ["memory_static_min"] = 1L << 30,
            ["VCPUs_max"] = 4L,
            ["VCPUs_at_startup"] = 4L,
            ["domid"] = 0L,
            ["resident_on"] = hostRef,
            ["domain_type"] = "pv",
        });
        SimGuests.AddMetrics(db, dom0Record);
        var dom0 = db.Add("VM", dom0Record);
        var templateRecord = SimRecords.Vm(new Dictionary<string, object?>
        {
            ["name_label"] = options.TemplateName,
            ["name_description"] = "A template for installing from install media",
            ["is_a_template"] = true,
            ["is_default_template"] = true,
            ["other_config"] = new Dictionary<string, string> { ["install-methods"] = "cdrom", ["linux_template"] = "false" },
        });
        SimGuests.AddMetrics(db, templateRecord);
        db.Add("VM", templateRecord);
        db.Add("host", new Dictionary<string, object?>
        {
            ["name_label"] = options.HostName,
            ["name_description"] = "Simulated XenAPI host",
            ["hostname"] = options.HostName,
            ["address"] = "127.0.0.1",
            ["enabled"] = true,
            ["API_version_major"] = 2L,
            ["API_version_minor"] = 21L,
            ["API_version_vendor"] = "XenSource",
            ["software_version"] = new Dictionary<string, string>
            {
                ["product_brand"] = "XCP-ng",
                ["product_version"] = "8.2.1",
                ["platform_name"] = "XCP",
                ["xen"] = "4.17.3",
                ["xapi"] = "1.20",
            },
            ["capabilities"] = new[] { "xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64" },
            ["cpu_info"] = cpuInfo,
            ["host_CPUs"] = cpus.ToArray(),
            ["metrics"] = metrics.Ref,
            ["resident_VMs"] = new[] { dom0.Ref },
            ["other_config"] = new Dictionary<string, string>
            {
                ["boot_time"] = (now.ToUnixTimeSeconds() - 3600).ToString(CultureInfo.InvariantCulture),
            },
            ["memory_overhead"] = 0L,
        }, hostRef);
        db.Add("pool", new Dictionary<string, object?>
        {
            ["name_label"] = string.Empty,
            ["name_description"] = string.Empty,
            ["master"] = hostRef,
            ["default_SR"] = sr.Ref,
            ["suspend_image_SR"] = sr.Ref,
            ["crash_dump_SR"] = sr.Ref,
            ["other_config"] = new Dictionary<string, string>(),
        });
    }
}
