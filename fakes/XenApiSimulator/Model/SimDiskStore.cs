namespace XenApiSimulator.Model;

/// <summary>
/// The bytes of the simulated VDIs: one sparse file per VDI reference in a temporary directory made on the first
/// write, holding what was written (a VDI nobody wrote to reads as zeros and has no file). Deleted on dispose.
/// </summary>
public sealed class SimDiskStore : IDisposable
{
    private readonly Lock _gate = new();
    private string? _directory;

    /// <summary>Opens the VDI's file for writing from its start (creating it and the store's directory when needed).</summary>
    public FileStream OpenForWrite(string vdiUuid) =>
        new(PathOf(vdiUuid, create: true)!, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous);

    /// <summary>The first <paramref name="count"/> bytes of the VDI (zeros where nothing was written).</summary>
    public byte[] Read(string vdiUuid, int count)
    {
        var bytes = new byte[count];
        var path = PathOf(vdiUuid, create: false);
        if (path is not null && File.Exists(path))
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var offset = 0;
            int read;
            while (offset < count && (read = file.Read(bytes, offset, count - offset)) > 0)
            {
                offset += read;
            }
        }

        return bytes;
    }

    /// <summary>How many bytes from the start of the VDI have been written (the length of its file).</summary>
    public long WrittenLength(string vdiUuid)
    {
        var path = PathOf(vdiUuid, create: false);
        return path is not null && File.Exists(path) ? new FileInfo(path).Length : 0;
    }

    /// <summary>Copies the bytes of one VDI to another (a clone or a snapshot).</summary>
    public void Copy(string sourceUuid, string targetUuid)
    {
        var source = PathOf(sourceUuid, create: false);
        if (source is not null && File.Exists(source))
        {
            File.Copy(source, PathOf(targetUuid, create: true)!, overwrite: true);
        }
    }

    /// <summary>Drops a VDI's bytes.</summary>
    public void Delete(string vdiUuid)
    {
        var path = PathOf(vdiUuid, create: false);
        if (path is not null)
        {
            File.Delete(path);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_directory is not null && Directory.Exists(_directory))
            {
                Directory.Delete(_directory, recursive: true);
            }

            _directory = null;
        }
    }

    private string? PathOf(string vdiUuid, bool create)
    {
        if (!Guid.TryParse(vdiUuid, out var uuid))
        {
            throw new ArgumentException($"'{vdiUuid}' is not a VDI uuid.", nameof(vdiUuid));
        }

        lock (_gate)
        {
            if (_directory is null && create)
            {
                _directory = Directory.CreateTempSubdirectory("xenapi-sim-vdis-").FullName;
            }

            return _directory is null ? null : Path.Combine(_directory, uuid.ToString("D") + ".raw");
        }
    }
}
