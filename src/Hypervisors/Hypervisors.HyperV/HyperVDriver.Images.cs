using System.Security.Cryptography;
using Hypervisors.HyperV.Mapping;
using Hypervisors.HyperV.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.HyperV;

/// <summary>
/// Disks from images. A disk's <see cref="DiskSpec.ImageRef"/> is either a path on the Hyper-V host
/// (<c>C:\Images\base.vhdx</c>, <c>\\fileserver\images\base.vhdx</c>), or a VHDX file of this machine inside the
/// driver's allowed host directories or vouched for by an image cache registered with its <see cref="HostPathPolicy"/>
/// (an <c>ImageDisksDriver</c> asking its cache for <c>vhdx</c>). A file of this machine is copied once into the
/// configured <see cref="HyperVDriverOptions.ImageShare"/>, named by the SHA-256 of the bytes copied (a temporary file,
/// renamed when complete, so Hyper-V never opens a partial copy); every instance then gets its own differencing disk on
/// that parent (<c>Msvm_ImageManagementService.CreateVirtualHardDisk</c>, Type 4).
/// </summary>
public sealed partial class HyperVDriver
{
    private const int CopyBufferBytes = 1 << 20;

    private readonly KeyedSingleFlight<ImageFileKey, string> _sharePlacements = new(keep: _ => true);

    /// <summary>A file of this machine as it was when placed: a changed file (length or time) is placed again.</summary>
    private readonly record struct ImageFileKey(string Path, long Length, long LastWriteTicks);

    /// <summary>
    /// For each disk of <paramref name="spec"/>: null for a blank disk, else the path Hyper-V opens as the parent of its
    /// differencing disk. Images of this machine are placed in the share now; a host path is checked to exist.
    /// </summary>
    private async Task<string?[]> ResolveImagesAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        var parents = new string?[spec.Disks.Count];
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is not { } reference)
            {
                continue;
            }

            var field = $"spec.Disks[{i}].ImageRef";
            if (TryResolveLocalImage(reference, field, out var localPath))
            {
                parents[i] = await PlaceInShareAsync(localPath, field, cancellationToken).ConfigureAwait(false);
            }
            else if (HyperVImageShareOptions.IsWindowsPath(reference))
            {
                await CheckHostImageAsync(reference, field, cancellationToken).ConfigureAwait(false);
                parents[i] = reference;
            }
            else
            {
                throw HostPathPolicy.Refusal(field);
            }
        }

        return parents;
    }

    /// <summary>Whether <paramref name="reference"/> is an image of this machine the driver may place in its share.</summary>
    private bool TryResolveLocalImage(string reference, string field, out string path)
    {
        path = reference;
        if (_options.ImageShare is null || !Path.IsPathFullyQualified(reference))
        {
            return false;
        }

        if (_localImages.TryResolve(reference, out var resolved))
        {
            path = resolved;
            return true;
        }

        try
        {
            // Not inside an allowed directory: accepted only when a trusted image store vouches for the file.
            _localImages.CheckDiskImage(reference, field);
            return true;
        }
        catch (InvalidSpecException)
        {
            return false;
        }
    }

    private async Task CheckHostImageAsync(string image, string field, CancellationToken cancellationToken)
    {
        try
        {
            await _wmi.Client.GetAsync(WmiSession.Reference(WmiSession.Cimv2, "CIM_DataFile", ("Name", image)), cancellationToken).ConfigureAwait(false);
        }
        catch (WsManException ex) when (HyperVErrorTable.Means(ex, HypervisorErrorKind.NotFound))
        {
            throw new InvalidSpecException(field, $"the host has no file '{image}'.");
        }
    }

    /// <summary>
    /// Places the VHDX at <paramref name="localPath"/> in the share unless it is there already, and returns its path as
    /// Hyper-V opens it. Parallel creates from one file copy it once.
    /// </summary>
    private async Task<string> PlaceInShareAsync(string localPath, string field, CancellationToken cancellationToken)
    {
        var share = _options.ImageShare!;
        for (var attempt = 0; ; attempt++)
        {
            var file = new FileInfo(localPath);
            if (!file.Exists)
            {
                throw new InvalidSpecException(field, "the image file does not exist.");
            }

            await CheckVhdxAsync(file, field, cancellationToken).ConfigureAwait(false);
            var key = new ImageFileKey(file.FullName, file.Length, file.LastWriteTimeUtc.Ticks);
            var (name, _) = await _sharePlacements.RunAsync(key, k => CopyIntoShareAsync(k, share, _disposing.Token), cancellationToken).ConfigureAwait(false);
            if (File.Exists(Path.Combine(share.LocalDirectory, name)) || attempt > 0)
            {
                return share.HostPathOf(name);
            }

            // Removed from the share since it was placed (an operator's clean-up): placed again, once.
            _sharePlacements.Forget(key, placed => placed == name);
        }
    }

    /// <summary>Refuses a file that is not a VHDX (its first eight bytes are the file type identifier <c>vhdxfile</c>).</summary>
    private static async Task CheckVhdxAsync(FileInfo file, string field, CancellationToken cancellationToken)
    {
        var signature = new byte[8];
        var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            var read = await stream.ReadAtLeastAsync(signature, signature.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < signature.Length || !signature.AsSpan().SequenceEqual("vhdxfile"u8))
            {
                throw new InvalidSpecException(field, "must be a VHDX image (ask an image cache for the 'vhdx' format); the file is not one.");
            }
        }
    }

    /// <summary>
    /// Copies the file into a temporary file of the share while hashing it, then renames the copy to
    /// <c>&lt;sha256&gt;.vhdx</c>, unless the share already holds those bytes under that name. Returns the name.
    /// </summary>
    private async Task<string> CopyIntoShareAsync(ImageFileKey key, HyperVImageShareOptions share, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(share.LocalDirectory, ".incoming-" + Guid.NewGuid().ToString("N") + ".vhdx.tmp");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long copied = 0;
            var source = new FileStream(key.Path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferBytes, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (source.ConfigureAwait(false))
            {
                var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBufferBytes, FileOptions.Asynchronous);
                await using (target.ConfigureAwait(false))
                {
                    var buffer = new byte[CopyBufferBytes];
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        copied += read;
                    }

                    await target.FlushAsync(cancellationToken).ConfigureAwait(false);
                    target.Flush(flushToDisk: true);
                }
            }

            var name = Convert.ToHexStringLower(hash.GetHashAndReset()) + ".vhdx";
            var final = Path.Combine(share.LocalDirectory, name);
            if (File.Exists(final))
            {
                return name; // The same bytes, placed before (from another file, or by another driver).
            }

            try
            {
                File.Move(temporary, final, overwrite: false);
            }
            catch (IOException) when (File.Exists(final))
            {
                return name; // Placed meanwhile by another process: the same bytes.
            }

            LogImagePlaced(_logger, key.Path, copied, share.HostPathOf(name));
            return name;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HypervisorUnavailableException($"The image could not be placed in the share '{share.LocalDirectory}': {ex.Message}", ex);
        }
        finally
        {
            DeleteQuietly(temporary);
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary file is never taken for an image: only complete copies get their hash's name.
        }
    }

    [LoggerMessage(EventId = 5107, EventName = "HyperVImagePlaced", Level = LogLevel.Information, Message = "Placed image {File} ({Bytes} bytes) in the image share as {HostPath}.")]
    private static partial void LogImagePlaced(ILogger logger, string file, long bytes, string hostPath);
}
