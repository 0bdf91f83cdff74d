namespace Hypervisors.Images.Cache;

/// <summary>
/// Decides from a probe whether an image file may back an instance: only the allowed disk formats, no qcow2 backing
/// file or external data file (a crafted header would make QEMU open a host file such as /etc/shadow), no VMDK that
/// spreads over other files, nothing encrypted, nothing larger than the limit.
/// </summary>
internal static class ImageSafety
{
    /// <summary>The disk formats accepted, as qemu-img names them ("vpc" is VHD).</summary>
    public static IReadOnlySet<string> AllowedFormats { get; } = new HashSet<string>(StringComparer.Ordinal) { "raw", "qcow2", "vmdk", "vhdx", "vdi", "vpc" };

    private static readonly HashSet<string> SingleFileVmdkTypes = new(StringComparer.Ordinal) { "monolithicSparse", "streamOptimized" };

    /// <summary>Throws <see cref="UnsafeImageException"/> unless the probed image is acceptable.</summary>
    public static void Check(string imageRef, string path, QemuImageInfo info, long maxVirtualSize)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (!AllowedFormats.Contains(info.Format))
        {
            throw new UnsafeImageException(imageRef, $"the file is '{info.Format}'; allowed disk formats are {string.Join(", ", AllowedFormats)}.");
        }

        if (info.BackingFile is not null)
        {
            throw new UnsafeImageException(imageRef, $"the {info.Format} image names a backing file ('{info.BackingFile}'); images with backing files are refused.");
        }

        if (info.DataFile is not null)
        {
            throw new UnsafeImageException(imageRef, $"the qcow2 image names an external data file ('{info.DataFile}'); such images are refused.");
        }

        if (info.Format == "vmdk")
        {
            if (info.VmdkCreateType is null || !SingleFileVmdkTypes.Contains(info.VmdkCreateType))
            {
                throw new UnsafeImageException(imageRef, $"the VMDK is '{info.VmdkCreateType}'; only monolithicSparse and streamOptimized (one file) are accepted.");
            }

            var full = Path.GetFullPath(path);
            if (info.VmdkExtentFiles.Any(f => !string.Equals(Path.GetFullPath(f), full, StringComparison.Ordinal)))
            {
                throw new UnsafeImageException(imageRef, "the VMDK has extents in other files.");
            }
        }

        if (info.Encrypted)
        {
            throw new UnsafeImageException(imageRef, "encrypted images are not supported.");
        }

        if (info.VirtualSize <= 0 || info.VirtualSize > maxVirtualSize)
        {
            throw new UnsafeImageException(imageRef, $"the disk's virtual size is {info.VirtualSize} bytes; the limit is {maxVirtualSize}.");
        }
    }

    /// <summary>qemu-img's name for a Glance disk_format ("vhd" is "vpc"; "iso" is read as raw); null for one that is not a disk.</summary>
    public static string? QemuFormatOf(string? glanceDiskFormat) => glanceDiskFormat switch
    {
        "raw" or "iso" => "raw",
        "qcow2" or "vmdk" or "vhdx" or "vdi" => glanceDiskFormat,
        "vhd" => "vpc",
        _ => null,
    };
}
