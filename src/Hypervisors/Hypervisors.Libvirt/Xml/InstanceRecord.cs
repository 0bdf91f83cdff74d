namespace Hypervisors.Libvirt.Xml;

/// <summary>
/// What the driver keeps about an instance inside its domain's <c>&lt;metadata&gt;</c>: the spec it was created
/// from (so a repeated create can be compared), the files the driver made for it, and the volumes attached since.
/// </summary>
/// <param name="Spec">The spec given at create.</param>
/// <param name="InstanceDirectory">The folder the driver created for the instance's files, or null.</param>
/// <param name="ConsoleLogPath">The serial console log file, or null.</param>
/// <param name="DiskPaths">The file of each disk in <see cref="InstanceSpec.Disks"/>, in order.</param>
/// <param name="Volumes">Attached volumes.</param>
internal sealed record InstanceRecord(
    InstanceSpec Spec,
    string? InstanceDirectory,
    string? ConsoleLogPath,
    IReadOnlyList<string> DiskPaths,
    IReadOnlyList<VolumeAttachment> Volumes)
{
    /// <summary>The domain UUID as text, kept so listings do not format it per call.</summary>
    public string NativeId { get; } = Spec.Id.ToString("D");

    /// <summary>The guest device of disk <paramref name="index"/> ("vda", "vdb", ... "vdz", "vdaa", ...).</summary>
    public static string DeviceName(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var suffix = string.Empty;
        var n = index;
        do
        {
            suffix = (char)('a' + (n % 26)) + suffix;
            n = (n / 26) - 1;
        }
        while (n >= 0);
        return "vd" + suffix;
    }

    /// <summary>The first guest device not used by a disk or volume.</summary>
    public string NextFreeDevice()
    {
        var used = new HashSet<string>(Volumes.Select(v => v.Device), StringComparer.Ordinal);
        for (var i = Spec.Disks.Count; ; i++)
        {
            var name = DeviceName(i);
            if (!used.Contains(name))
            {
                return name;
            }
        }
    }

    /// <summary>The disks as the contract reports them.</summary>
    public IReadOnlyList<DiskInfo> Disks() =>
        [.. Spec.Disks.Select((d, i) => new DiskInfo(DeviceName(i), d.SizeGiB, d.ImageRef, i < DiskPaths.Count ? DiskPaths[i] : null))];
}
