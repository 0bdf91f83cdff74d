using Hypervisors.Libvirt.Xml;

namespace Hypervisors.Libvirt;

/// <summary>The instance's files on the host: its folder, disks and console log.</summary>
public sealed partial class LibvirtDriver
{
    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Decides where the instance's files go; the folder is null when it needs none.</summary>
    private InstanceRecord PlanFiles(InstanceSpec spec)
    {
        var needsDisks = spec.Disks.Count > 0;
        if (needsDisks && !_profile.IsLocal)
        {
            throw NotSupported(InstanceOperation.Create, "disks are created with qemu-img on this machine, and the libvirt host is remote.");
        }

        if (!needsDisks && !Capabilities.SupportsConsoleOutput)
        {
            return new InstanceRecord(spec, null, null, [], []);
        }

        var directory = Path.Combine(Path.GetFullPath(_options.InstanceDirectory), spec.Id.ToString("D"));
        var disks = Enumerable.Range(0, spec.Disks.Count).Select(i => Path.Combine(directory, $"disk{i}.qcow2")).ToList();
        var console = Capabilities.SupportsConsoleOutput ? Path.Combine(directory, "console.log") : null;
        return new InstanceRecord(spec, directory, console, disks, []);
    }

    /// <summary>Creates the folder and the disks (overlays on base images, or blank).</summary>
    private async Task CreateFilesAsync(InstanceRecord record, CancellationToken cancellationToken)
    {
        var spec = record.Spec;
        for (var i = 0; i < spec.Disks.Count; i++)
        {
            if (spec.Disks[i].ImageRef is { } image && !File.Exists(image))
            {
                throw new InvalidSpecException($"spec.Disks[{i}].ImageRef", $"no base image at '{image}'.");
            }
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(record.InstanceDirectory!);
        }
        else
        {
            Directory.CreateDirectory(record.InstanceDirectory!, DirectoryMode);
        }
        try
        {
            for (var i = 0; i < spec.Disks.Count; i++)
            {
                var disk = spec.Disks[i];
                if (disk.ImageRef is { } image)
                {
                    await _qemuImg.CreateOverlayAsync(Path.GetFullPath(image), record.DiskPaths[i], disk.SizeGiB, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _qemuImg.CreateBlankAsync(record.DiskPaths[i], disk.SizeGiB, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            DeleteFiles(record);
            throw;
        }
    }

    /// <summary>Removes the files the driver created for an instance: its disks, console log and folder.</summary>
    private void DeleteFiles(InstanceRecord record)
    {
        if (record.InstanceDirectory is not { } directory)
        {
            return;
        }

        // Only ever the folder this driver names for the id, never a path taken from elsewhere.
        var expected = Path.Combine(Path.GetFullPath(_options.InstanceDirectory), record.Spec.Id.ToString("D"));
        if (!string.Equals(directory, expected, StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException ex)
        {
            throw new HypervisorException($"Instance {record.Spec.Id} was removed, but its folder '{directory}' could not be deleted: {ex.Message}", ex) { InstanceId = record.Spec.Id };
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new HypervisorException($"Instance {record.Spec.Id} was removed, but its folder '{directory}' could not be deleted: {ex.Message}", ex) { InstanceId = record.Spec.Id };
        }
    }

    /// <inheritdoc />
    protected override async Task<ConsoleOutput> GetConsoleOutputCoreAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        var record = await NativeAsync(InstanceOperation.GetConsoleOutput, instanceId, session => Record(instanceId, session.Domain(instanceId)), cancellationToken)
            .ConfigureAwait(false);
        if (record?.ConsoleLogPath is not { } path || !File.Exists(path))
        {
            return new ConsoleOutput(string.Empty, false);
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            var take = (int)Math.Min(length, _options.ConsoleTailBytes);
            stream.Seek(length - take, SeekOrigin.Begin);
            var buffer = new byte[take];
            var read = await stream.ReadAtLeastAsync(buffer, take, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return new ConsoleOutput(System.Text.Encoding.UTF8.GetString(buffer, 0, read), length > take);
        }
    }
}
