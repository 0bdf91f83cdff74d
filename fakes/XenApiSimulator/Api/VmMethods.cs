using System.Globalization;
using Hypervisors.Xen.Wire;
using XenApiSimulator.Model;

namespace XenApiSimulator.Api;

/// <summary>
/// VM life cycle after XenAPI's vm-lifecycle document: Halted -start-> Running (or Paused); Running &lt;-&gt; Paused;
/// Running -suspend-> Suspended -resume-> Running; clean_shutdown from Running and hard_shutdown from Running,
/// Paused or Suspended to Halted; destroy from Halted. Anything else is VM_BAD_POWER_STATE [vm, expected, actual]
/// with lower-case state names, as xapi sends them.
/// </summary>
internal static class VmMethods
{
    private static readonly string[] VmRequired =
        ["name_label", "memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min", "VCPUs_max", "VCPUs_at_startup"];

    private static readonly HashSet<string> VmReadOnly = new(StringComparer.Ordinal)
    {
        "uuid", "power_state", "VBDs", "VIFs", "domid", "resident_on", "is_control_domain", "consoles", "snapshots",
        "current_operations", "allowed_operations", "metrics", "guest_metrics", "is_a_snapshot", "snapshot_of", "children",
    };

    public static void Register(SimMethodTable table, SimDatabase db, XenApiSimulatorOptions options)
    {
        table.Add("VM.create", 1, a =>
        {
            var record = SimMethodTable.Merge(SimRecords.Vm(), a.Struct(0), VmRequired, VmReadOnly);
            CheckMemory(record["memory_static_min"], record["memory_dynamic_min"], record["memory_dynamic_max"], record["memory_static_max"]);
            CheckVcpus((long)record["VCPUs_at_startup"]!, (long)record["VCPUs_max"]!);
            SimGuests.AddMetrics(db, record);
            var vm = db.Add("VM", record);
            if (options.GuestsHavePvDrivers)
            {
                db.GuestsWithPvDrivers.Add(vm.Ref);
            }

            return vm.Ref;
        });
        table.Add("VM.destroy", 1, a =>
        {
            var vm = db.Get("VM", a.Text(0));
            if (vm.Bool("is_control_domain"))
            {
                throw new XenApiFailureException("OPERATION_NOT_ALLOWED", ["The control domain cannot be destroyed."]);
            }

            Require(vm, "halted", "Halted");
            foreach (var vbd in vm.Refs("VBDs").Where(r => db.Exists("VBD", r)).Select(r => db.Get("VBD", r)).ToList())
            {
                SimMethodTable.Unlink(db, "VDI", vbd.Text("VDI"), "VBDs", vbd.Ref);
                db.Remove(vbd);
            }

            foreach (var vif in vm.Refs("VIFs").Where(r => db.Exists("VIF", r)).Select(r => db.Get("VIF", r)).ToList())
            {
                SimMethodTable.Unlink(db, "network", vif.Text("network"), "VIFs", vif.Ref);
                db.Remove(vif);
            }

            if (vm.Bool("is_a_snapshot"))
            {
                SimMethodTable.Unlink(db, "VM", vm.Text("snapshot_of"), "snapshots", vm.Ref);
            }

            SimGuests.RemoveMetrics(db, vm);
            db.GuestsWithPvDrivers.Remove(vm.Ref);
            db.Remove(vm);
            return string.Empty;
        });
        table.Add("VM.clone", 2, a =>
        {
            var clone = Clone(db, db.Get("VM", a.Text(0)), a.Text(1), snapshot: false);
            if (options.GuestsHavePvDrivers)
            {
                db.GuestsWithPvDrivers.Add(clone);
            }

            return clone;
        });
        table.Add("VM.snapshot", 2, a => Clone(db, db.Get("VM", a.Text(0)), a.Text(1), snapshot: true));
        table.Add("VM.provision", 1, a =>
        {
            Require(db.Get("VM", a.Text(0)), "halted", "Halted");
            return string.Empty;
        });
        table.Add("VM.set_memory_limits", 5, a =>
        {
            var vm = db.Get("VM", a.Text(0));
            Require(vm, "halted", "Halted");
            CheckMemory(a.Long(1), a.Long(3), a.Long(4), a.Long(2));
            vm["memory_static_min"] = a.Long(1);
            vm["memory_static_max"] = a.Long(2);
            vm["memory_dynamic_min"] = a.Long(3);
            vm["memory_dynamic_max"] = a.Long(4);
            db.Modified(vm);
            return string.Empty;
        });
        table.Add("VM.set_VCPUs_max", 2, a =>
        {
            var vm = db.Get("VM", a.Text(0));
            Require(vm, "halted", "Halted");
            CheckVcpus(vm.Long("VCPUs_at_startup"), a.Long(1));
            vm["VCPUs_max"] = a.Long(1);
            db.Modified(vm);
            return string.Empty;
        });
        table.Add("VM.set_VCPUs_at_startup", 2, a =>
        {
            var vm = db.Get("VM", a.Text(0));
            CheckVcpus(a.Long(1), vm.Long("VCPUs_max"));
            vm["VCPUs_at_startup"] = a.Long(1);
            db.Modified(vm);
            return string.Empty;
        });

        table.Add("VM.start", 3, a => Start(db, a.Text(0), a.Bool(1)));
        table.Add("VM.start_on", 4, a =>
        {
            db.Get("host", a.Text(1));
            return Start(db, a.Text(0), a.Bool(2));
        });
        table.Add("VM.clean_shutdown", 1, a =>
        {
            var vm = Require(db.Get("VM", a.Text(0)), "running", "Running");
            SimGuests.CheckFeature(db, vm, "clean_shutdown");
            return options.CleanShutdownHangs ? SimPending.Instance : SetPower(db, vm, "Halted");
        });
        table.Add("VM.hard_shutdown", 1, a => SetPower(db, Require(db.Get("VM", a.Text(0)), "running", "Running", "Paused", "Suspended"), "Halted"));
        table.Add("VM.clean_reboot", 1, a =>
        {
            var vm = Require(db.Get("VM", a.Text(0)), "running", "Running");
            SimGuests.CheckFeature(db, vm, "clean_reboot");
            return Reboot(db, vm);
        });
        table.Add("VM.hard_reboot", 1, a => Reboot(db, Require(db.Get("VM", a.Text(0)), "running", "Running", "Paused")));
        table.Add("VM.pause", 1, a => SetPower(db, Require(db.Get("VM", a.Text(0)), "running", "Running"), "Paused"));
        table.Add("VM.unpause", 1, a => SetPower(db, Require(db.Get("VM", a.Text(0)), "paused", "Paused"), "Running"));
        table.Add("VM.suspend", 1, a =>
        {
            var vm = Require(db.Get("VM", a.Text(0)), "running", "Running");
            SimGuests.CheckFeature(db, vm, "suspend");
            return SetPower(db, vm, "Suspended");
        });
        table.Add("VM.resume", 3, a =>
        {
            var vm = Require(db.Get("VM", a.Text(0)), "suspended", "Suspended");
            ReserveMemory(db, vm);
            return SetPower(db, vm, a.Bool(1) ? "Paused" : "Running");
        });
    }

    /// <summary>Throws VM_BAD_POWER_STATE unless the VM is in one of <paramref name="allowed"/>.</summary>
    public static SimObject Require(SimObject vm, string expected, params string[] allowed)
    {
        var actual = vm.Text("power_state");
        return allowed.Contains(actual)
            ? vm
            : throw new XenApiFailureException("VM_BAD_POWER_STATE", [vm.Ref, expected, actual.ToLowerInvariant()]);
    }

    private static object Start(SimDatabase db, string vmRef, bool paused)
    {
        var vm = db.Get("VM", vmRef);
        if (vm.Bool("is_a_template"))
        {
            throw new XenApiFailureException("VM_IS_TEMPLATE", [vm.Ref, "start"]);
        }

        Require(vm, "halted", "Halted");
        ReserveMemory(db, vm);
        return SetPower(db, vm, paused ? "Paused" : "Running");
    }

    private static void ReserveMemory(SimDatabase db, SimObject vm)
    {
        var metrics = db.Get("host_metrics", db.First("host").Text("metrics"));
        var needed = vm.Long("memory_static_max");
        var free = metrics.Long("memory_free");
        if (needed > free)
        {
            throw new XenApiFailureException("HOST_NOT_ENOUGH_FREE_MEMORY",
                [needed.ToString(CultureInfo.InvariantCulture), free.ToString(CultureInfo.InvariantCulture)]);
        }
    }

    private static object SetPower(SimDatabase db, SimObject vm, string state)
    {
        var host = db.First("host");
        var wasActive = vm.Text("power_state") is "Running" or "Paused";
        var active = state is "Running" or "Paused";
        vm["power_state"] = state;
        if (active && !wasActive)
        {
            vm["domid"] = db.Generation;
            vm["resident_on"] = host.Ref;
            SimMethodTable.Link(db, host, "resident_VMs", vm.Ref);
            SimGuests.DomainStarted(db, vm);
        }
        else if (!active && wasActive)
        {
            vm["domid"] = -1L;
            vm["resident_on"] = SimRecords.NullRef;
            SimMethodTable.Unlink(db, "host", host.Ref, "resident_VMs", vm.Ref);
            SimGuests.DomainStopped(db, vm);
        }

        foreach (var (cls, field) in new[] { ("VBD", "VBDs"), ("VIF", "VIFs") })
        {
            foreach (var device in vm.Refs(field).Where(r => db.Exists(cls, r)).Select(r => db.Get(cls, r)))
            {
                if (device.Bool("currently_attached") != active)
                {
                    device["currently_attached"] = active;
                    db.Modified(device);
                }
            }
        }

        db.Modified(vm);
        RecomputeFreeMemory(db);
        return string.Empty;
    }

    private static object Reboot(SimDatabase db, SimObject vm)
    {
        vm["power_state"] = "Running";
        vm["domid"] = db.Generation;
        db.Modified(vm);
        SimGuests.DomainStarted(db, vm);
        RecomputeFreeMemory(db);
        return string.Empty;
    }

    private static void RecomputeFreeMemory(SimDatabase db)
    {
        var metrics = db.Get("host_metrics", db.First("host").Text("metrics"));
        var used = db.All("VM").Where(v => v.Text("power_state") is "Running" or "Paused").Sum(v => v.Long("memory_static_max"));
        var free = Math.Max(0, metrics.Long("memory_total") - used);
        if (free != metrics.Long("memory_free"))
        {
            metrics["memory_free"] = free;
            db.Modified(metrics);
        }
    }

    /// <summary>VM.clone (of a halted VM or a template) or VM.snapshot (of a VM in any state): disks are cloned too.</summary>
    private static string Clone(SimDatabase db, SimObject source, string name, bool snapshot)
    {
        if (!source.Bool("is_a_template") && !snapshot)
        {
            Require(source, "halted", "Halted");
        }

        if (snapshot && (source.Bool("is_a_template") || source.Bool("is_a_snapshot") || source.Bool("is_control_domain")))
        {
            throw new XenApiFailureException("OPERATION_NOT_ALLOWED", ["Only a VM can be snapshotted."]);
        }

        var record = source.Snapshot();
        record.Remove("uuid");
        record["name_label"] = name;
        record["is_default_template"] = false;
        record["VBDs"] = Array.Empty<string>();
        record["VIFs"] = Array.Empty<string>();
        record["snapshots"] = Array.Empty<string>();
        SimGuests.AddMetrics(db, record);
        if (snapshot)
        {
            record["is_a_snapshot"] = true;
            record["is_a_template"] = true;
            record["snapshot_of"] = source.Ref;
            record["snapshot_time"] = db.Clock.GetUtcNow().UtcDateTime;
            record["power_state"] = "Halted";
            record["domid"] = -1L;
            record["resident_on"] = SimRecords.NullRef;
        }

        var clone = db.Add("VM", record);
        if (snapshot)
        {
            SimMethodTable.Link(db, source, "snapshots", clone.Ref);
        }

        foreach (var vbd in source.Refs("VBDs").Where(r => db.Exists("VBD", r)).Select(r => db.Get("VBD", r)))
        {
            var vdi = vbd.Text("VDI");
            if (db.Exists("VDI", vdi))
            {
                vdi = DeviceMethods.CloneVdi(db, db.Get("VDI", vdi));
            }

            var copy = vbd.Snapshot();
            copy.Remove("uuid");
            copy["VM"] = clone.Ref;
            copy["VDI"] = vdi;
            copy["currently_attached"] = false;
            var created = db.Add("VBD", copy);
            SimMethodTable.Link(db, clone, "VBDs", created.Ref);
            if (db.Exists("VDI", vdi))
            {
                SimMethodTable.Link(db, db.Get("VDI", vdi), "VBDs", created.Ref);
            }
        }

        foreach (var vif in source.Refs("VIFs").Where(r => db.Exists("VIF", r)).Select(r => db.Get("VIF", r)))
        {
            var copy = vif.Snapshot();
            copy.Remove("uuid");
            copy["VM"] = clone.Ref;
            copy["MAC"] = DeviceMethods.NewMac();
            copy["currently_attached"] = false;
            var created = db.Add("VIF", copy);
            SimMethodTable.Link(db, clone, "VIFs", created.Ref);
            SimMethodTable.Link(db, db.Get("network", vif.Text("network")), "VIFs", created.Ref);
        }

        return clone.Ref;
    }

    private static void CheckMemory(object? staticMin, object? dynamicMin, object? dynamicMax, object? staticMax)
    {
        var values = new[] { staticMin, dynamicMin, dynamicMax, staticMax }.Select(XenValue.ToInt64).ToArray();
        if (values[0] < 0 || values[0] > values[1] || values[1] > values[2] || values[2] > values[3])
        {
            throw new XenApiFailureException("MEMORY_CONSTRAINT_VIOLATION",
                ["Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max"]);
        }
    }

    private static void CheckVcpus(long atStartup, long max)
    {
        if (atStartup < 1 || atStartup > max)
        {
            throw new XenApiFailureException("VALUE_NOT_SUPPORTED",
                ["VCPUs_at_startup", atStartup.ToString(CultureInfo.InvariantCulture), "must be between 1 and VCPUs_max"]);
        }
    }
}
