using System.Diagnostics;
using Hypervisors.Testing;

namespace Hypervisors.Libvirt.Tests.RealGuest;

/// <summary>
/// The libvirtd + QEMU host that .ci/setup/20-libvirt.sh prepares: the daemon's socket, the guest kernel and
/// initramfs whose init prints <see cref="Marker"/> on the serial console at every boot, and a base image.
/// </summary>
internal static class CiHost
{
    public const string Uri = "qemu:///system";
    public const string GuestDirectory = "/var/lib/hypervisors-ci/guest";
    public const string InstanceDirectory = "/var/lib/hypervisors-ci/instances";
    public const string Marker = "HYPERVISORS-CI-GUEST-BOOTED";
    public const string Socket = "/var/run/libvirt/libvirt-sock";
    public const string PidFile = "/var/run/libvirtd.pid";

    public static string Kernel => Path.Combine(GuestDirectory, "vmlinuz");

    public static string Initramfs => Path.Combine(GuestDirectory, "initramfs.gz");

    public static string BaseImage => Path.Combine(GuestDirectory, "base.qcow2");

    /// <summary>Skips (or fails under CI) unless libvirtd and the guest assets are there.</summary>
    public static void Require() =>
        ExternalParts.Require(
            LibvirtDriver.IsLibvirtAvailable() && File.Exists(Socket) && File.Exists(Kernel) && File.Exists(Initramfs) && File.Exists(BaseImage),
            "libvirtd with the QEMU driver and the CI guest (.ci/setup/20-libvirt.sh)");

    /// <summary>
    /// A driver on qemu:///system with software emulation (KVM hangs guests on these machines), allowed the guest's and
    /// the instances' folders; <paramref name="adjust"/> changes other settings.
    /// </summary>
    public static LibvirtDriver NewDriver(Action<LibvirtDriverOptions>? adjust = null)
    {
        var options = new LibvirtDriverOptions
        {
            Uri = Uri,
            DomainType = "qemu",
            MachineType = "pc",
            InstanceDirectory = InstanceDirectory,
            ShutdownPollInterval = TimeSpan.FromMilliseconds(250),
            AllowedHostDirectories = { GuestDirectory, InstanceDirectory },
        };
        adjust?.Invoke(options);
        return new LibvirtDriver(options);
    }

    /// <summary>Kills the running libvirtd (the one in its pid file) and waits until it has exited.</summary>
    public static async Task StopDaemonAsync(CancellationToken cancellationToken)
    {
        var pid = int.Parse((await File.ReadAllTextAsync(PidFile, cancellationToken)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using var daemon = Process.GetProcessById(pid);
        daemon.Kill();
        await daemon.WaitForExitAsync(cancellationToken);
    }

    /// <summary>Starts libvirtd again as the setup script does.</summary>
    public static async Task StartDaemonAsync(CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("libvirtd") { UseShellExecute = false };
        start.ArgumentList.Add("-d");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("libvirtd did not start.");
        await process.WaitForExitAsync(cancellationToken);
    }
}

/// <summary>Tests that use or restart the shared libvirtd run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LibvirtdCollection
{
    public const string Name = "libvirtd";
}
