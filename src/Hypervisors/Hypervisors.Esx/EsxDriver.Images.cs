using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Esx;

/// <summary>
/// Disks from images. A disk's <see cref="DiskSpec.ImageRef"/> is either a datastore path
/// (<c>[datastore1] images/base.vmdk</c>, a VMFS disk already there) or a raw disk image file of this machine inside
/// the driver's allowed host directories (an image cache's entry in <c>raw</c> format, for instance). A host file is
/// uploaded once into the datastore's <c>hypervisors-images</c> folder (<c>PUT /folder/...?dcPath=&amp;dsName=</c>) as a
/// VMFS flat extent with a descriptor written last, so a broken upload is never taken for a complete one; each
/// instance then gets its own copy (<c>VirtualDiskManager.CopyVirtualDisk_Task</c>) in <c>hypervisors-disks</c>,
/// which its VM's disk is backed by.
/// </summary>
public sealed partial class EsxDriver
{
    private const string ImagesFolder = "hypervisors-images";
    private const string DisksFolder = "hypervisors-disks";
    private const int SectorBytes = 512;

    private ServiceManagers? _managers;
    private string? _datacenterName;

    /// <summary>
    /// For each disk of <paramref name="spec"/>: null for a new blank disk, else the datastore path of the instance's
    /// own copy of the disk's image, made now.
    /// </summary>
    private async Task<string?[]> PrepareImageDisksAsync(InstanceSpec spec, CancellationToken cancellationToken)
    {
        var files = new string?[spec.Disks.Count];
        if (!spec.Disks.Any(d => d.ImageRef is not null))
        {
            return files;
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is { } reference && !IsDatastorePath(reference) && !HostPathPolicy.IsHostPath(reference))
            {
                throw new InvalidSpecException($"spec.Disks[{i}].ImageRef",
                    "must be a datastore path ('[datastore1] images/base.vmdk') or a raw disk image file of this host inside its allowed directories.");
            }
        }

        var placement = Current;
        var managers = await GetManagersAsync(cancellationToken).ConfigureAwait(false);
        await MakeDirectoryAsync(managers, DatastorePath(placement.DatastoreName, DisksFolder), cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is not { } reference)
            {
                continue;
            }

            var source = IsDatastorePath(reference)
                ? reference
                : await UploadImageAsync(reference, $"spec.Disks[{i}].ImageRef", cancellationToken).ConfigureAwait(false);
            var target = DatastorePath(placement.DatastoreName, DiskCopyPath(spec.Id, i));
            await RunTaskAsync("CopyVirtualDisk_Task", managers.VirtualDiskManager, w => w
                .Element("sourceName", source).Ref("sourceDatacenter", placement.Datacenter)
                .Element("destName", target).Ref("destDatacenter", placement.Datacenter)
                .Element("force", true), cancellationToken).ConfigureAwait(false);
            LogImageDiskCopied(_logger, spec.Id, i, source, target);
            files[i] = target;
        }

        return files;
    }

    /// <summary>Deletes the disk copies a failed create made (best effort: a leftover is overwritten by the next try).</summary>
    private async Task DeleteImageDiskCopiesQuietlyAsync(IEnumerable<string?> files)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var file in files.OfType<string>())
        {
            try
            {
                var managers = await GetManagersAsync(cts.Token).ConfigureAwait(false);
                await RunTaskAsync("DeleteVirtualDisk_Task", managers.VirtualDiskManager, w => w.Element("name", file).Ref("datacenter", Current.Datacenter), cts.Token)
                    .ConfigureAwait(false);
            }
            catch (Exception ex) when (VimClient.IsCallFailure(ex))
            {
                LogImageDiskCopyLeft(_logger, file);
            }
        }
    }

    /// <summary>The image reference a disk of a VM was made from: its copy's name tells the disk's index in the spec.</summary>
    private static string? ImageRefOfDisk(string? fileName, Guid instanceId, InstanceSpec? spec)
    {
        if (fileName is null || spec is null)
        {
            return null;
        }

        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is { } reference && fileName.EndsWith("] " + DiskCopyPath(instanceId, i), StringComparison.Ordinal))
            {
                return reference;
            }
        }

        return null;
    }

    private static string DiskCopyPath(Guid instanceId, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{DisksFolder}/{instanceId:N}-{index}.vmdk");

    private static bool IsDatastorePath(string reference) =>
        reference.StartsWith('[') && reference.IndexOf(']', StringComparison.Ordinal) > 1;

    private static string DatastorePath(string datastore, string path) => "[" + datastore + "] " + path;

    /// <summary>
    /// Uploads the raw image at <paramref name="hostPath"/> (already allowed by the host-path policy) unless the
    /// datastore holds it, and returns the datastore path of its descriptor. Named by the file's resolved path, length
    /// and modification time, so a changed file is uploaded again under another name.
    /// </summary>
    private async Task<string> UploadImageAsync(string hostPath, string field, CancellationToken cancellationToken)
    {
        var file = new FileInfo(HostFilePolicy?.TryResolve(hostPath, out var resolved) == true ? resolved : Path.GetFullPath(hostPath));
        if (!file.Exists)
        {
            throw new InvalidSpecException(field, "the image file does not exist.");
        }

        if (file.Length == 0 || file.Length % SectorBytes != 0)
        {
            throw new InvalidSpecException(field, $"a raw disk image of {file.Length} bytes is not a whole number of {SectorBytes}-byte sectors.");
        }

        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{file.FullName}\n{file.Length}\n{file.LastWriteTimeUtc.Ticks}"))))[..24];
        var placement = Current;
        var datacenter = await GetDatacenterNameAsync(cancellationToken).ConfigureAwait(false);
        var descriptorPath = $"{ImagesFolder}/{key}.vmdk";
        var extentName = key + "-flat.vmdk";
        var descriptorUrl = _client.DatastoreFileUrl(datacenter, placement.DatastoreName, descriptorPath);
        if (await _client.FileExistsAsync(descriptorUrl, cancellationToken).ConfigureAwait(false))
        {
            return DatastorePath(placement.DatastoreName, descriptorPath);
        }

        var extent = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (extent.ConfigureAwait(false))
        {
            await _client.UploadAsync(HttpMethod.Put, _client.DatastoreFileUrl(datacenter, placement.DatastoreName, $"{ImagesFolder}/{extentName}"),
                extent, extent.Length, "application/octet-stream", cancellationToken).ConfigureAwait(false);
        }

        using var descriptor = new MemoryStream(Encoding.UTF8.GetBytes(FlatDescriptor(extentName, file.Length)));
        await _client.UploadAsync(HttpMethod.Put, descriptorUrl, descriptor, descriptor.Length, "text/plain", cancellationToken).ConfigureAwait(false);
        LogImageUploaded(_logger, file.FullName, file.Length, descriptorPath);
        return DatastorePath(placement.DatastoreName, descriptorPath);
    }

    /// <summary>The descriptor of a VMFS flat disk whose one extent is <paramref name="extentName"/> of <paramref name="bytes"/> bytes.</summary>
    internal static string FlatDescriptor(string extentName, long bytes)
    {
        var sectors = bytes / SectorBytes;
        var cylinders = Math.Max(1, sectors / (255 * 63));
        var text = new StringBuilder()
            .Append("# Disk DescriptorFile\n")
            .Append("version=1\n")
            .Append("encoding=\"UTF-8\"\n")
            .Append("CID=fffffffe\n")
            .Append("parentCID=ffffffff\n")
            .Append("createType=\"vmfs\"\n\n")
            .Append("# Extent description\n")
            .Append(CultureInfo.InvariantCulture, $"RW {sectors} VMFS \"{extentName}\"\n\n")
            .Append("# The Disk Data Base\n")
            .Append("#DDB\n\n")
            .Append("ddb.adapterType = \"lsilogic\"\n")
            .Append(CultureInfo.InvariantCulture, $"ddb.geometry.cylinders = \"{cylinders}\"\n")
            .Append("ddb.geometry.heads = \"255\"\n")
            .Append("ddb.geometry.sectors = \"63\"\n")
            .Append("ddb.virtualHWVersion = \"13\"\n");
        return text.ToString();
    }

    private async Task MakeDirectoryAsync(ServiceManagers managers, string datastorePath, CancellationToken cancellationToken)
    {
        try
        {
            await _client.InvokeAsync("MakeDirectory", managers.FileManager,
                w => w.Element("name", datastorePath).Ref("datacenter", Current.Datacenter).Element("createParentDirectories", true),
                _ => true, cancellationToken).ConfigureAwait(false);
        }
        catch (VimFaultException fault) when (fault.FaultType == "FileAlreadyExists")
        {
            // Made by an earlier create.
        }
    }

    private async Task<string> GetDatacenterNameAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _datacenterName) is { } name)
        {
            return name;
        }

        var content = await _client.RetrieveObjectAsync(Current.Datacenter, ["name"], cancellationToken).ConfigureAwait(false);
        name = content.Text("name") ?? throw new VimFaultException("InvalidResponse", "The datacenter has no name.");
        Volatile.Write(ref _datacenterName, name);
        return name;
    }

    /// <summary>The managers of the service content the image operations use, read once.</summary>
    private async Task<ServiceManagers> GetManagersAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _managers) is { } managers)
        {
            return managers;
        }

        managers = await _client.InvokeAsync("RetrieveServiceContent", VimClient.ServiceInstance, null, r =>
        {
            var content = r.Child("returnval") ?? throw new VimFaultException("InvalidResponse", "RetrieveServiceContent returned nothing.");
            return new ServiceManagers(
                content.ChildRef("fileManager") ?? throw new VimFaultException("NotSupported", "The endpoint has no FileManager."),
                content.ChildRef("virtualDiskManager") ?? throw new VimFaultException("NotSupported", "The endpoint has no VirtualDiskManager."),
                content.ChildRef("ovfManager"));
        }, cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _managers, managers);
        return managers;
    }

    [LoggerMessage(EventId = 3032, EventName = "EsxImageDiskCopyLeft", Level = LogLevel.Warning, Message = "A failed create left the disk copy {File}; the next create of the instance overwrites it.")]
    private static partial void LogImageDiskCopyLeft(ILogger logger, string file);

    private sealed record ServiceManagers(ManagedObjectReference FileManager, ManagedObjectReference VirtualDiskManager, ManagedObjectReference? OvfManager);

    [LoggerMessage(EventId = 3030, EventName = "EsxImageUploaded", Level = LogLevel.Information, Message = "Uploaded image {File} ({Bytes} bytes) to the datastore as {DatastorePath}.")]
    private static partial void LogImageUploaded(ILogger logger, string file, long bytes, string datastorePath);

    [LoggerMessage(EventId = 3031, EventName = "EsxImageDiskCopied", Level = LogLevel.Debug, Message = "Instance {InstanceId} disk {Disk}: copied {Source} to {Target}.")]
    private static partial void LogImageDiskCopied(ILogger logger, Guid instanceId, int disk, string source, string target);
}
