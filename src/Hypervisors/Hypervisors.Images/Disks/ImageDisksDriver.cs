using Hypervisors.Images.Cache;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hypervisors.Images.Disks;

/// <summary>
/// Lets a driver create disks from image references: before a create, each <see cref="DiskSpec.ImageRef"/>
/// (<c>glance:&lt;id&gt;</c>, <c>https://...#sha256=</c>, or an allowed host file) is fetched into the host's
/// <see cref="ImageCache"/>, verified, probed and converted to <see cref="DiskFormat"/>, and the inner driver gets
/// the cached file as the disk's base (libvirt makes a qcow2 overlay on it). The instance holds a lease on each
/// entry until it is deleted, so the cache never ages out an image that backs a disk. A refused image changes
/// nothing: no instance, no lease, no cache entry.
/// </summary>
/// <remarks>
/// The cache's files are bases the inner driver must accept, though the operator lists only the directories callers
/// may name: the decorator registers the cache with the inner driver's <see cref="HostPathPolicy"/> (or, for a driver
/// whose other references are paths of a remote host, its policy for disk images, <see cref="HostPathPolicy.DiskImagesKey"/>)
/// (<see cref="HostPathPolicy.TrustImagesOf"/>), which then accepts the cache's verified entries as disk images, and
/// still refuses every other host path outside its allowed directories.
/// </remarks>
public sealed partial class ImageDisksDriver : DelegatingHypervisorDriver
{
    private readonly ImageCache _cache;
    private readonly ILogger _logger;

    /// <summary>Wraps <paramref name="innerDriver"/>; its disks are based on files in <paramref name="diskFormat"/>.</summary>
    public ImageDisksDriver(IHypervisorDriver innerDriver, ImageCache cache, string diskFormat = "qcow2", ILogger<ImageDisksDriver>? logger = null)
        : base(innerDriver)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
        (innerDriver.GetService<HostPathPolicy>() ?? innerDriver.GetService(typeof(HostPathPolicy), HostPathPolicy.DiskImagesKey) as HostPathPolicy)
            ?.TrustImagesOf(cache);
        DiskFormat = diskFormat;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The format the inner driver's base images must have.</summary>
    public string DiskFormat { get; }

    /// <inheritdoc />
    public override async Task<InstanceInfo> CreateInstanceAsync(InstanceSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!spec.Disks.Any(d => d.ImageRef is not null))
        {
            return await base.CreateInstanceAsync(spec, cancellationToken).ConfigureAwait(false);
        }

        // A driver that cannot base disks on images refuses before anything is fetched or leased.
        if (!Capabilities.SupportsImageDisks)
        {
            throw new OperationNotSupportedException(Capabilities.HypervisorType, InstanceOperation.Create, "disks from an image are not supported.");
        }

        // Parse every reference before fetching any, so a malformed one refuses the request without a download.
        var references = new ImageReference?[spec.Disks.Count];
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is { } text && _cache.FindByPath(text) is null)
            {
                try
                {
                    references[i] = ImageReference.Parse(text);
                }
                catch (InvalidImageReferenceException ex)
                {
                    throw new InvalidSpecException($"spec.Disks[{i}].ImageRef", ex.Message);
                }
            }
        }

        var disks = new List<DiskSpec>(spec.Disks.Count);
        try
        {
            for (var i = 0; i < spec.Disks.Count; i++)
            {
                if (spec.Disks[i].ImageRef is { } path && _cache.FindByPath(path) is { } entry)
                {
                    // Already a cache entry (an imported package's disk): only the lease is taken.
                    await _cache.LeaseAsync(entry, spec.Id, cancellationToken).ConfigureAwait(false);
                    disks.Add(spec.Disks[i]);
                    continue;
                }

                if (references[i] is not { } reference)
                {
                    disks.Add(spec.Disks[i]);
                    continue;
                }

                var image = await _cache.AcquireAsync(reference, DiskFormat, spec.Id, cancellationToken).ConfigureAwait(false);
                LogDiskImage(_logger, spec.Id, i, reference.Text, image.Path, image.Downloaded);
                disks.Add(spec.Disks[i] with { ImageRef = image.Path });
            }

            return await base.CreateInstanceAsync(spec with { Disks = disks }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Leases are files named by the instance id: an instance that exists (a repeat, or a conflicting id) keeps its own.
            if (!await ExistsAsync(spec.Id, CancellationToken.None).ConfigureAwait(false))
            {
                _cache.Release(spec.Id);
            }

            throw;
        }
    }

    /// <inheritdoc />
    public override async Task DeleteInstanceAsync(Guid instanceId, CancellationToken cancellationToken = default)
    {
        await base.DeleteInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
        _cache.Release(instanceId);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(ImageCache) ? _cache : base.GetService(serviceType, serviceKey);
    }

    private async Task<bool> ExistsAsync(Guid id, CancellationToken cancellationToken)
    {
        try
        {
            await InnerDriver.GetInstanceAsync(id, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (InstanceNotFoundException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 6020, Level = LogLevel.Information, Message = "Instance {InstanceId} disk {Disk} is based on {ImageRef} at {Path} (downloaded: {Downloaded})")]
    private static partial void LogDiskImage(ILogger logger, Guid instanceId, int disk, string imageRef, string path, bool downloaded);
}
