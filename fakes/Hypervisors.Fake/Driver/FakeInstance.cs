using System.Globalization;
using System.Text;

namespace Hypervisors.Fake;

/// <summary>One simulated instance. Every member is used under the driver's lock.</summary>
internal sealed class FakeInstance(InstanceSpec spec, string nativeId)
{
    private readonly StringBuilder _console = new();
    private TimeSpan _cpuTime;
    private long _runningSince;
    private int _bootCount;

    public InstanceSpec Spec { get; } = spec;

    public string NativeId { get; } = nativeId;

    public PowerState State { get; private set; } = PowerState.Shutdown;

    public List<DiskInfo> Disks { get; } = [];

    public List<VolumeAttachment> Volumes { get; } = [];

    public List<NetworkInterfaceInfo> Interfaces { get; } = [];

    public List<SnapshotInfo> Snapshots { get; } = [];

    public bool ConsoleTruncated { get; private set; }

    public string ConsoleText => _console.ToString();

    /// <summary>Whether the instance holds host vCPUs and memory (running or paused).</summary>
    public bool HoldsResources => State is PowerState.Running or PowerState.Paused;

    public InstanceInfo ToInfo(TimeProvider clock) =>
        new(Spec.Id, Spec.Name, State, Spec.VCpus, Spec.MemoryMiB, CpuTime(clock))
        {
            NativeId = NativeId,
            Metadata = new Dictionary<string, string>(Spec.Metadata),
        };

    public void MoveTo(PowerState state, TimeProvider clock, int consoleLimit)
    {
        if (State == PowerState.Running)
        {
            _cpuTime += clock.GetElapsedTime(_runningSince) * Spec.VCpus;
        }

        var booting = state == PowerState.Running && State is PowerState.Shutdown or PowerState.Crashed;
        State = state;
        if (state == PowerState.Running)
        {
            _runningSince = clock.GetTimestamp();
        }

        if (booting)
        {
            Boot(clock, consoleLimit);
        }
    }

    /// <summary>A reboot: the guest boots again and the CPU time restarts.</summary>
    public void Reboot(TimeProvider clock, int consoleLimit)
    {
        _runningSince = clock.GetTimestamp();
        Boot(clock, consoleLimit);
    }

    public string NextDeviceName()
    {
        for (var letter = 'a'; letter <= 'z'; letter++)
        {
            var name = "vd" + letter;
            if (!Disks.Any(d => d.Device == name) && !Volumes.Any(v => v.Device == name))
            {
                return name;
            }
        }

        throw new InsufficientResourcesException($"Instance {Spec.Id} has no free disk slot.");
    }

    private TimeSpan CpuTime(TimeProvider clock) =>
        State == PowerState.Running ? _cpuTime + (clock.GetElapsedTime(_runningSince) * Spec.VCpus) : _cpuTime;

    private void Boot(TimeProvider clock, int consoleLimit)
    {
        _bootCount++;
        _cpuTime = TimeSpan.Zero;

        var at = clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        var log = new StringBuilder();
        log.Append(CultureInfo.InvariantCulture, $"[    0.000000] Linux version 6.1.0-fake (boot {_bootCount} at {at})\n");
        log.Append(CultureInfo.InvariantCulture, $"[    0.000000] Command line: {Spec.KernelBoot?.CommandLine ?? "root=/dev/vda1 console=ttyS0"}\n");
        log.Append(CultureInfo.InvariantCulture, $"[    0.010000] smpboot: Allowing {Spec.VCpus} CPUs\n");
        log.Append(CultureInfo.InvariantCulture, $"[    0.020000] Memory: {Spec.MemoryMiB * 1024}K available\n");
        foreach (var disk in Disks)
        {
            log.Append(CultureInfo.InvariantCulture, $"[    0.500000] virtio_blk virtio0: [{disk.Device}] {disk.SizeGiB * 1024 * 1024 * 2} 512-byte logical blocks\n");
        }

        foreach (var nic in Interfaces)
        {
            log.Append(CultureInfo.InvariantCulture, $"[    0.600000] virtio_net virtio1 {nic.Device}: renamed from {nic.MacAddress}\n");
        }

        log.Append(CultureInfo.InvariantCulture, $"[    1.000000] systemd[1]: Hostname set to <{Spec.Name}>.\n");
        log.Append(CultureInfo.InvariantCulture, $"\n{Spec.Name} login: ");
        AppendConsole(log.ToString(), consoleLimit);
    }

    /// <summary>Appends guest console output, keeping the newest <paramref name="consoleLimit"/> characters.</summary>
    public void AppendConsole(string text, int consoleLimit)
    {
        _console.Append(text);
        if (_console.Length > consoleLimit)
        {
            _console.Remove(0, _console.Length - consoleLimit);
            ConsoleTruncated = true;
        }
    }
}
