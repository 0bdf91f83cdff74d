using Hypervisors.Xen.Wire;

namespace XenApiSimulator.Model;

/// <summary>
/// What the guest inside a VM tells xapi, and the checks xapi makes with it (xen-api ocaml/xapi
/// xapi_vm_lifecycle.ml <c>check_op_for_feature</c>, xapi_vbd_helpers.ml and xapi_vif_helpers.ml,
/// xapi_pv_driver_version.ml):
/// <list type="bullet">
/// <item>Every VM has a <c>VM_metrics</c> record from creation; its <c>current_domain_type</c> is set when the domain
/// starts.</item>
/// <item>A running VM has a <c>VM_guest_metrics</c> record. A new HVM guest has no PV drivers: the record has an
/// empty <c>PV_drivers_version</c>, <c>PV_drivers_detected = false</c> and no <c>feature-*</c> keys in
/// <c>other</c>. A guest whose drivers are installed (<see cref="InstallPvDrivers"/>) reports a driver version,
/// <c>PV_drivers_detected = true</c> and the features.</item>
/// <item>On a live HVM guest without drivers, <c>VM.clean_shutdown</c> (unless <c>feature-shutdown</c> or
/// <c>feature-poweroff</c>), <c>VM.clean_reboot</c> (unless <c>feature-shutdown</c> or <c>feature-reboot</c>) and
/// <c>VM.suspend</c> (unless <c>feature-suspend</c>) fail with <c>VM_LACKS_FEATURE [vm]</c>;
/// <c>data-cant-suspend-reason</c> makes suspend fail with <c>VM_NON_SUSPENDABLE [vm, reason]</c>.</item>
/// <item><c>VBD.plug</c>/<c>unplug</c> and <c>VIF.plug</c>/<c>unplug</c> on a running HVM guest need the guest's
/// hot-plug support: <c>can_use_hotplug_*</c> "yes", or "unspecified" with <c>PV_drivers_detected</c>, or a
/// driver version; "no" is <c>OPERATION_NOT_ALLOWED</c>, none of them <c>VM_MISSING_PV_DRIVERS [vm]</c>.</item>
/// </list>
/// Every member must be called holding <see cref="SimDatabase.Gate"/>.
/// </summary>
internal static class SimGuests
{
    /// <summary>The driver version a guest with drivers reports (a Linux guest agent: no build number).</summary>
    private static readonly Dictionary<string, string> DriverVersion = new(StringComparer.Ordinal) { ["major"] = "9", ["minor"] = "3", ["micro"] = "3" };

    /// <summary>The <c>other</c> keys the guest agent of a guest with drivers writes (xenstore control/feature-*).</summary>
    private static readonly Dictionary<string, string> DriverFeatures = new(StringComparer.Ordinal)
    {
        ["feature-shutdown"] = "1",
        ["feature-poweroff"] = "1",
        ["feature-reboot"] = "1",
        ["feature-suspend"] = "1",
        ["feature-vcpu-hotplug"] = "1",
        ["has-vendor-device"] = "0",
    };

    /// <summary>Gives a new VM its <c>VM_metrics</c> record, as VM.create does.</summary>
    public static void AddMetrics(SimDatabase db, Dictionary<string, object?> vmRecord)
    {
        var metrics = db.Add("VM_metrics", SimRecords.VmMetrics(db.Clock.GetUtcNow().UtcDateTime));
        vmRecord["metrics"] = metrics.Ref;
        vmRecord["guest_metrics"] = SimRecords.NullRef;
    }

    /// <summary>Removes a destroyed VM's metrics records.</summary>
    public static void RemoveMetrics(SimDatabase db, SimObject vm)
    {
        RemoveGuestMetrics(db, vm);
        if (db.Exists("VM_metrics", vm.Text("metrics")))
        {
            db.Remove(db.Get("VM_metrics", vm.Text("metrics")));
        }
    }

    /// <summary>Marks the guest of <paramref name="vm"/> as having PV drivers; a live guest reports them at once.</summary>
    public static void InstallPvDrivers(SimDatabase db, SimObject vm)
    {
        db.GuestsWithPvDrivers.Add(vm.Ref);
        if (IsLive(vm))
        {
            Report(db, vm);
        }
    }

    /// <summary>A domain was built (start, resume, reboot): the metrics say so and the guest reports what it has.</summary>
    public static void DomainStarted(SimDatabase db, SimObject vm)
    {
        if (db.Exists("VM_metrics", vm.Text("metrics")))
        {
            var metrics = db.Get("VM_metrics", vm.Text("metrics"));
            var domainType = vm.Text("domain_type");
            metrics["current_domain_type"] = domainType;
            metrics["hvm"] = domainType == "hvm";
            metrics["start_time"] = db.Clock.GetUtcNow().UtcDateTime;
            metrics["VCPUs_number"] = vm.Long("VCPUs_at_startup");
            metrics["memory_actual"] = vm.Long("memory_dynamic_max");
            metrics["state"] = new[] { "running" };
            db.Modified(metrics);
        }

        RemoveGuestMetrics(db, vm);
        Report(db, vm);
    }

    /// <summary>The domain is gone (halted or suspended): xapi drops the guest's metrics.</summary>
    public static void DomainStopped(SimDatabase db, SimObject vm)
    {
        RemoveGuestMetrics(db, vm);
        if (db.Exists("VM_metrics", vm.Text("metrics")))
        {
            var metrics = db.Get("VM_metrics", vm.Text("metrics"));
            metrics["state"] = Array.Empty<string>();
            metrics["VCPUs_number"] = 0L;
            metrics["memory_actual"] = 0L;
            db.Modified(metrics);
        }
    }

    /// <summary>
    /// Throws what xapi throws for <paramref name="operation"/> ("clean_shutdown", "clean_reboot", "suspend") on a
    /// live guest that cannot do it; the power state has been checked before.
    /// </summary>
    public static void CheckFeature(SimDatabase db, SimObject vm, string operation)
    {
        if (!IsLive(vm))
        {
            return;
        }

        var guest = GuestMetrics(db, vm);
        var other = guest?.Map("other") ?? [];
        var implicitSupport = HasDefinitelyBootedPv(db, vm) || HasPvDrivers(guest);
        bool Lacks(string feature) => !(other.TryGetValue(feature, out var value) && value == "1");
        if (operation == "suspend")
        {
            if (other.TryGetValue("data-cant-suspend-reason", out var reason))
            {
                throw new XenApiFailureException("VM_NON_SUSPENDABLE", [vm.Ref, reason]);
            }

            if (!implicitSupport && Lacks("feature-suspend"))
            {
                throw new XenApiFailureException("VM_LACKS_FEATURE", [vm.Ref]);
            }

            return;
        }

        var lacking = !implicitSupport && operation switch
        {
            "clean_shutdown" => Lacks("feature-shutdown") && Lacks("feature-poweroff"),
            "clean_reboot" => Lacks("feature-shutdown") && Lacks("feature-reboot"),
            _ => false,
        };
        if (lacking)
        {
            throw new XenApiFailureException("VM_LACKS_FEATURE", [vm.Ref]);
        }
    }

    /// <summary>Throws what xapi throws for plugging or unplugging a VBD or VIF of a running HVM guest that cannot hot-plug.</summary>
    public static void CheckHotplug(SimDatabase db, SimObject vm, string deviceClass)
    {
        if (vm.Text("power_state") != "Running" || CurrentDomainType(db, vm) != "hvm")
        {
            return;
        }

        var guest = GuestMetrics(db, vm);
        var claim = guest?.Text(deviceClass == "VBD" ? "can_use_hotplug_vbd" : "can_use_hotplug_vif") ?? "unspecified";
        if (claim == "yes" || (claim == "unspecified" && guest is not null && guest.Bool("PV_drivers_detected")))
        {
            return;
        }

        if (claim == "no")
        {
            throw new XenApiFailureException("OPERATION_NOT_ALLOWED", [$"VM states it does not support {deviceClass} hotplug."]);
        }

        if (!HasPvDrivers(guest))
        {
            throw new XenApiFailureException("VM_MISSING_PV_DRIVERS", [vm.Ref]);
        }
    }

    private static bool IsLive(SimObject vm) => vm.Text("power_state") is "Running" or "Paused";

    /// <summary>xapi's <c>Helpers.domain_type</c>: the metrics' current type for a VM with a domain, else the configured one.</summary>
    private static string CurrentDomainType(SimDatabase db, SimObject vm) =>
        vm.Text("power_state") != "Halted" && db.Exists("VM_metrics", vm.Text("metrics"))
            ? db.Get("VM_metrics", vm.Text("metrics")).Text("current_domain_type")
            : vm.Text("domain_type");

    private static bool HasDefinitelyBootedPv(SimDatabase db, SimObject vm) =>
        db.Exists("VM_metrics", vm.Text("metrics"))
        && db.Get("VM_metrics", vm.Text("metrics")).Text("current_domain_type") is "pv" or "pvh" or "pv_in_pvh";

    /// <summary>xapi_pv_driver_version.ml: drivers are present when PV_drivers_version has integer major and minor.</summary>
    private static bool HasPvDrivers(SimObject? guest)
    {
        var version = guest?.Map("PV_drivers_version") ?? [];
        return version.TryGetValue("major", out var major) && long.TryParse(major, out _)
            && version.TryGetValue("minor", out var minor) && long.TryParse(minor, out _);
    }

    private static SimObject? GuestMetrics(SimDatabase db, SimObject vm) =>
        db.Exists("VM_guest_metrics", vm.Text("guest_metrics")) ? db.Get("VM_guest_metrics", vm.Text("guest_metrics")) : null;

    /// <summary>Creates the guest's metrics record, with drivers and features when its drivers are installed.</summary>
    private static void Report(SimDatabase db, SimObject vm)
    {
        var withDrivers = db.GuestsWithPvDrivers.Contains(vm.Ref);
        var now = db.Clock.GetUtcNow().UtcDateTime;
        if (GuestMetrics(db, vm) is { } existing)
        {
            db.Remove(existing);
        }

        var guest = db.Add("VM_guest_metrics", SimRecords.VmGuestMetrics(now,
            withDrivers ? new Dictionary<string, string>(DriverVersion) : [],
            withDrivers ? new Dictionary<string, string>(DriverFeatures) : [],
            withDrivers));
        vm["guest_metrics"] = guest.Ref;
        db.Modified(vm);
    }

    private static void RemoveGuestMetrics(SimDatabase db, SimObject vm)
    {
        if (GuestMetrics(db, vm) is { } guest)
        {
            db.Remove(guest);
        }

        if (vm.Text("guest_metrics") != SimRecords.NullRef)
        {
            vm["guest_metrics"] = SimRecords.NullRef;
            db.Modified(vm);
        }
    }
}
