namespace Hypervisors.Images.Cache;

/// <summary>Settings of an <see cref="ImageCache"/>.</summary>
public sealed class ImageCacheOptions
{
    /// <summary>The cache's folder on this host (images, temporary downloads and leases live under it, on one file system).</summary>
    public string Directory { get; set; } = "/var/lib/hypervisors/images";

    /// <summary>How long an image no instance uses stays cached after its last use.</summary>
    public TimeSpan MaxUnusedAge { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Free space to leave on the cache's file system after a download or conversion, in bytes.</summary>
    public long MinimumFreeBytes { get; set; } = 1L << 30;

    /// <summary>The largest virtual disk size accepted, in bytes (default 512 GiB).</summary>
    public long MaxVirtualSizeBytes { get; set; } = 512L << 30;

    /// <summary>The largest download accepted, in bytes.</summary>
    public long MaxDownloadBytes { get; set; } = 256L << 30;

    /// <summary>
    /// How long the Glance metadata of an active image (its digest, formats, size) is reused for further disks from
    /// the same <c>glance:</c> reference, saving a show per create. The bytes are still verified against that digest,
    /// so the only effect of a stale answer is that an image deactivated or deleted in Glance within this time can
    /// still back a disk from the copy already cached. Zero asks Glance on every create.
    /// </summary>
    public TimeSpan GlanceMetadataReuse { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The qemu-img program.</summary>
    public string QemuImgPath { get; set; } = "qemu-img";

    /// <summary>The prlimit program that caps qemu-img's probes, or null to run them without limits.</summary>
    public string? PrlimitPath { get; set; } = "/usr/bin/prlimit";
}

/// <summary>An image in the cache, ready to back instance disks.</summary>
/// <param name="Name">The entry's name: the source digest's cache key and the format ("sha512-…​.qcow2").</param>
/// <param name="Digest">The digest the source bytes were verified against.</param>
/// <param name="Format">The format of the cached file ("qcow2", "raw", ...).</param>
/// <param name="Path">The file, to be opened read-only.</param>
/// <param name="SizeBytes">The file's size.</param>
/// <param name="VirtualSize">The disk's virtual size.</param>
/// <param name="Source">Where it came from (the reference it was first fetched for).</param>
/// <param name="LastUsed">When an instance was last created from it.</param>
/// <param name="Instances">The instances whose disks it backs.</param>
public sealed record CachedImage(
    string Name, ImageDigest Digest, string Format, string Path, long SizeBytes, long VirtualSize, string Source, DateTimeOffset LastUsed, IReadOnlyList<Guid> Instances);
