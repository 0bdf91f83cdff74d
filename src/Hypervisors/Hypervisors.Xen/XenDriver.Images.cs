using System.Globalization;
using System.Text;
using Hypervisors.Xen.Wire;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Xen;

/// <summary>
/// Disks from image files of this machine: a disk whose <see cref="DiskSpec.ImageRef"/> is a host path (inside
/// <see cref="XenDriverOptions.AllowedHostDirectories"/>, or an image cache's verified entry) gets a new VDI of the
/// image's size (at least the disk's), and the file's raw bytes are streamed into it through XenAPI's HTTP handler
/// <c>PUT /import_raw_vdi?session_id=&amp;task_id=&amp;vdi=&amp;format=raw</c>. xapi answers 200 before it reads the body,
/// so the outcome is read from the task passed as <c>task_id</c>. A failed import destroys the VDI again.
/// </summary>
public sealed partial class XenDriver
{
    private const string ImportRawVdiPath = "/import_raw_vdi";
    private const int SectorBytes = 512;

    /// <summary>Headers of image formats that are not raw, by their magic at offset 0 (qemu's block drivers' probes).</summary>
    private static readonly (string Format, byte[] Magic)[] NonRawMagics =
    [
        ("qcow2", [(byte)'Q', (byte)'F', (byte)'I', 0xFB]),
        ("vmdk", "KDMV"u8.ToArray()),
        ("vmdk", "# Disk DescriptorFile"u8.ToArray()),
        ("vhdx", "vhdxfile"u8.ToArray()),
        ("vhd", "conectix"u8.ToArray()),
        ("vdi", "<<< Oracle VM VirtualBox Disk Image >>>"u8.ToArray()),
    ];

    /// <summary>Creates the VDI of disk <paramref name="index"/> from its host image file and returns its reference.</summary>
    private async Task<string> ImportImageDiskAsync(InstanceSpec spec, int index, string sr, Dictionary<string, string> marker, CancellationToken cancellationToken)
    {
        var disk = spec.Disks[index];
        var field = $"spec.Disks[{index}].ImageRef";
        var file = new FileInfo(HostFilePolicy?.TryResolve(disk.ImageRef, out var resolved) == true ? resolved : Path.GetFullPath(disk.ImageRef!));
        var length = await ProbeRawImageAsync(file, field, cancellationToken).ConfigureAwait(false);
        marker[ImageRefKey] = disk.ImageRef!;
        var taskRef = XenValue.ToText(await CallAsync("task.create", cancellationToken, "Hypervisors image import",
            string.Create(CultureInfo.InvariantCulture, $"Disk {index} of instance {spec.Id:D}")).ConfigureAwait(false));
        string? vdiRef = null;
        try
        {
            vdiRef = XenValue.ToText(await CallAsync("VDI.create", cancellationToken, VdiRecord($"{spec.Name}-disk{index}", sr,
                Math.Max(disk.SizeGiB * GiB, length), marker)).ConfigureAwait(false));
            await _session.WithSessionAsync(async session =>
            {
                var image = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
                await using (image.ConfigureAwait(false))
                {
                    await _rpc.PutAsync(ImportRawVdiPath,
                        [new("session_id", session), new("task_id", taskRef), new("vdi", vdiRef), new("format", "raw")],
                        image, length, _options.TaskTimeout, cancellationToken).ConfigureAwait(false);
                }
            }, cancellationToken).ConfigureAwait(false);
            await AwaitImportTaskAsync(taskRef, cancellationToken).ConfigureAwait(false);
            LogImageImported(_logger, spec.Id, index, file.FullName, length);
            return vdiRef;
        }
        catch (Exception ex) when (IsCallFailure(ex) && vdiRef is not null)
        {
            // A refused create leaves nothing: the VDI has no VBD yet, so the create's rollback would not find it.
            await BestEffortAsync("VDI.destroy", vdiRef).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await BestEffortAsync("task.destroy", taskRef).ConfigureAwait(false);
        }
    }

    /// <summary>The import's outcome from its task: read once (the server ends its answer when the task is done), polled while still pending.</summary>
    private async Task AwaitImportTaskAsync(string taskRef, CancellationToken cancellationToken)
    {
        var task = XenValue.ToStruct(await CallAsync("task.get_record", cancellationToken, taskRef).ConfigureAwait(false));
        if (XenValue.ToText(task.GetValueOrDefault("status")) is "pending" or "cancelling")
        {
            using var deadline = new CancellationTokenSource(_options.TaskTimeout, TimeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            try
            {
                task = await PollTaskAsync(taskRef, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new HypervisorTimeoutException($"The XenAPI import task did not finish within {_options.TaskTimeout}.");
            }
        }

        switch (XenValue.ToText(task.GetValueOrDefault("status")))
        {
            case "success":
                return;
            case "failure":
                throw XenApiFailureException.FromDescription(task.GetValueOrDefault("error_info"));
            default:
                throw new XenApiFailureException("TASK_CANCELLED", [taskRef]);
        }
    }

    /// <summary>
    /// The length of a raw disk image: it must exist, be whole sectors, and not start with another format's header
    /// (such a file would be imported as a disk holding that file). An image cache converts images to raw for this driver.
    /// </summary>
    private static async Task<long> ProbeRawImageAsync(FileInfo file, string field, CancellationToken cancellationToken)
    {
        if (!file.Exists)
        {
            throw new InvalidSpecException(field, "the image file does not exist.");
        }

        if (file.Length == 0 || file.Length % SectorBytes != 0)
        {
            throw new InvalidSpecException(field, $"a raw disk image of {file.Length} bytes is not a whole number of {SectorBytes}-byte sectors.");
        }

        var head = new byte[SectorBytes];
        var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, SectorBytes, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            await stream.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (format, magic) in NonRawMagics)
        {
            if (head.AsSpan().StartsWith(magic))
            {
                throw new InvalidSpecException(field, $"the image is in {format} format, not raw; the Xen driver imports raw images (an image cache converts them).");
            }
        }

        return file.Length;
    }

    /// <summary>The record of a new VDI on <paramref name="sr"/> (every field VDI.create requires).</summary>
    private static Dictionary<string, object?> VdiRecord(string name, string sr, long bytes, Dictionary<string, string> otherConfig) => new(StringComparer.Ordinal)
    {
        ["name_label"] = name,
        ["name_description"] = "Created by the Hypervisors SDK",
        ["SR"] = sr,
        ["virtual_size"] = bytes.ToString(CultureInfo.InvariantCulture),
        ["type"] = "user",
        ["sharable"] = false,
        ["read_only"] = false,
        ["other_config"] = otherConfig,
        ["xenstore_data"] = new Dictionary<string, string>(),
        ["sm_config"] = new Dictionary<string, string>(),
        ["tags"] = Array.Empty<string>(),
    };

    [LoggerMessage(EventId = 4004, EventName = "XenImageImported", Level = LogLevel.Information, Message = "Instance {InstanceId} disk {Disk}: imported {File} ({Bytes} bytes) into a new VDI")]
    private static partial void LogImageImported(ILogger logger, Guid instanceId, int disk, string file, long bytes);
}
