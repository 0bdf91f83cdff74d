using Hypervisors.Testing;

namespace Hypervisors.Uml.Tests;

/// <summary>
/// A private UML host for one test class: a short temp folder (Unix socket paths are at most 107 bytes) holding the
/// driver's state, a busybox root the guests boot from over hostfs, a small base image and volume files. The guest's
/// busybox init writes <see cref="DiskMarker"/> to the start of ubda and prints <see cref="BootMarker"/> at every boot, then every 0.2 s a status line (a tick counter, its
/// network devices and ubd devices); Ctrl-Alt-Del makes it reboot, and its shutdown prints <see cref="ShutdownMarker"/>.
/// </summary>
public sealed class UmlTestHost : IDisposable
{
    public const string BootMarker = "UML-GUEST-BOOTED";
    public const string ShutdownMarker = "UML-GUEST-SHUTTING-DOWN";

    /// <summary>What the guest writes at the start of its first disk at every boot.</summary>
    public const string DiskMarker = "UML-GUEST-WROTE-THIS";
    public const string KernelPath = "/usr/bin/linux.uml";

    private readonly bool _owned;

    public UmlTestHost()
        : this(Path.Combine("/tmp", "hyp-uml-" + Guid.NewGuid().ToString("N")[..8]), owned: true)
    {
    }

    /// <summary>Opens the host in <paramref name="root"/>; only the owner makes its files and removes them.</summary>
    public UmlTestHost(string root, bool owned)
    {
        Root = root;
        _owned = owned;
        if (!owned)
        {
            return;
        }

        Directory.CreateDirectory(ImageDirectory);
        Directory.CreateDirectory(VolumeDirectory);
        MakeGuestRoot();
        using (var image = File.Create(BaseImage))
        {
            image.SetLength(4 * 1024 * 1024);
        }
    }

    /// <summary>Whether linux.uml and busybox are installed (by .ci/setup/70-uml.sh).</summary>
    public static bool Available => File.Exists(KernelPath) && File.Exists("/bin/busybox");

    public string Root { get; }

    public string StateDirectory => Path.Combine(Root, "state");

    public string ImageDirectory => Path.Combine(Root, "images");

    public string VolumeDirectory => Path.Combine(Root, "volumes");

    public string GuestRoot => Path.Combine(ImageDirectory, "busybox-root");

    public string BaseImage => Path.Combine(ImageDirectory, "base.img");

    /// <summary>Skips (or, under CI, fails) the test when UML is not installed.</summary>
    public static void Require() => ExternalParts.Require(Available, "User Mode Linux (linux.uml, busybox-static)");

    public UmlDriverOptions Options(Action<UmlDriverOptions>? adjust = null)
    {
        var options = new UmlDriverOptions { StateDirectory = StateDirectory, BootTimeout = TimeSpan.FromSeconds(60) };
        options.AllowedImageDirectories.Add(ImageDirectory);
        options.AllowedVolumeDirectories.Add(VolumeDirectory);
        options.Networks["default"] = string.Empty;
        adjust?.Invoke(options);
        return options;
    }

    /// <summary>The kernel boot of the busybox guest.</summary>
    public KernelBootSpec KernelBoot => new(KernelPath, null, "root=/dev/root rootfstype=hostfs rw init=/sbin/init quiet hostfs=" + GuestRoot);

    /// <summary>A guest spec: one vCPU, 64 MiB, one COW disk over the base image, booting the busybox root.</summary>
    public InstanceSpec Spec(Guid id, string name) => new()
    {
        Id = id,
        Name = name,
        VCpus = 1,
        MemoryMiB = 64,
        Disks = [new DiskSpec(1, BaseImage)],
        KernelBoot = KernelBoot,
    };

    /// <summary>A volume file of 8 MiB in the volume folder.</summary>
    public VolumeSpec Volume(string volumeId)
    {
        var path = Path.Combine(VolumeDirectory, volumeId + ".img");
        using (var file = File.Create(path))
        {
            file.SetLength(8 * 1024 * 1024);
        }

        return new VolumeSpec(volumeId, path);
    }

    public void Dispose()
    {
        if (!_owned)
        {
            return;
        }

        // Tests delete their guests; anything a failed test left running is killed so nothing outlives the run.
        // Every driver state folder under the root counts (the kit's own drivers keep theirs beside StateDirectory).
        if (Directory.Exists(Root))
        {
            foreach (var pidFile in Directory.EnumerateFiles(Root, "pid", SearchOption.AllDirectories))
            {
                if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && UmlGuestProcess.IsKernelOf(pid, Path.GetFileName(Path.GetDirectoryName(pidFile)!)))
                {
                    _ = NativeMethods.Kill(-pid, NativeMethods.SigKill);
                }
            }
        }

        Thread.Sleep(200);
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    private void MakeGuestRoot()
    {
        foreach (var folder in new[] { "bin", "sbin", "etc", "proc", "sys", "dev", "tmp" })
        {
            Directory.CreateDirectory(Path.Combine(GuestRoot, folder));
        }

        File.Copy("/bin/busybox", Path.Combine(GuestRoot, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(GuestRoot, "bin", "sh"), "busybox");
        File.CreateSymbolicLink(Path.Combine(GuestRoot, "sbin", "init"), "../bin/busybox");
        File.WriteAllText(Path.Combine(GuestRoot, "etc", "inittab"),
            $"""
            ::sysinit:/bin/busybox mount -t proc proc /proc
            ::sysinit:/bin/busybox mount -t sysfs sys /sys
            ::sysinit:/bin/busybox mount -t devtmpfs dev /dev
            ::sysinit:/bin/busybox sh -c "[ -b /dev/ubda ] && echo {DiskMarker} | /bin/busybox dd of=/dev/ubda conv=notrunc,fsync 2>/dev/null"
            ::sysinit:/bin/busybox echo {BootMarker}
            ::respawn:/bin/status
            ::ctrlaltdel:/bin/busybox reboot
            ::shutdown:/bin/busybox echo {ShutdownMarker}

            """);
        var status = Path.Combine(GuestRoot, "bin", "status");
        File.WriteAllText(status,
            """
            #!/bin/busybox sh
            n=0
            while true; do
              n=$((n+1))
              echo "STATUS tick=$n net=$(/bin/busybox ls /sys/class/net | /bin/busybox tr '\n' ',') ubd=$(/bin/busybox ls /dev | /bin/busybox grep ubd | /bin/busybox tr '\n' ',')"
              /bin/busybox sleep 0.2
            done

            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(status, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
    }
}
