namespace Hypervisors.HyperV;

/// <summary>
/// A directory both this machine and the Hyper-V host reach (an SMB share mounted here, or a path of the host when
/// the driver runs on it), where <see cref="HyperVDriver"/> places the VHDX images of this machine that disks are
/// created from: each image once, under its content's SHA-256, as the parent of every instance's differencing disk.
/// </summary>
public sealed class HyperVImageShareOptions
{
    /// <summary>The directory as this machine writes to it (absolute; it must exist), for example <c>/mnt/hyperv-images</c>.</summary>
    public string LocalDirectory { get; set; } = string.Empty;

    /// <summary>
    /// The same directory as the Hyper-V host opens it: a UNC path (<c>\\fileserver\images</c>) or a path with a drive
    /// letter (<c>D:\Images</c>).
    /// </summary>
    public string HostPath { get; set; } = string.Empty;

    /// <summary>One failure per bad value, named <c>{keyPrefix}:{property}</c>.</summary>
    internal IEnumerable<string> Validate(string keyPrefix)
    {
        if (string.IsNullOrWhiteSpace(LocalDirectory) || !Path.IsPathFullyQualified(LocalDirectory) || LocalDirectory.Contains('\0', StringComparison.Ordinal))
        {
            yield return $"{keyPrefix}:{nameof(LocalDirectory)}: must be an absolute path, was '{LocalDirectory}'.";
        }
        else if (!Directory.Exists(LocalDirectory))
        {
            yield return $"{keyPrefix}:{nameof(LocalDirectory)}: the directory '{LocalDirectory}' does not exist.";
        }

        if (!IsHostDirectory(HostPath))
        {
            yield return $"{keyPrefix}:{nameof(HostPath)}: must be a UNC path (\\\\server\\share) or a path with a drive letter (D:\\Images), was '{HostPath}'.";
        }
    }

    /// <summary>The Hyper-V host's path of the file <paramref name="fileName"/> in the share.</summary>
    internal string HostPathOf(string fileName) => HostPath.TrimEnd('\\') + "\\" + fileName;

    /// <summary>Whether <paramref name="path"/> is an absolute Windows path: <c>X:\...</c> or <c>\\server\share...</c>.</summary>
    internal static bool IsWindowsPath(string? path) =>
        path is { Length: >= 3 } && !path.Contains('\0', StringComparison.Ordinal)
        && ((char.IsAsciiLetter(path[0]) && path[1] == ':' && path[2] == '\\')
            || (path.StartsWith(@"\\", StringComparison.Ordinal) && path.Length > 2 && path[2] is not ('\\' or '?' or '.')));

    private static bool IsHostDirectory(string? path) =>
        IsWindowsPath(path) && !path!.Split('\\').Any(part => part is "." or "..") && path.IndexOfAny(['/', '*', '?', '"', '<', '>', '|']) < 0;
}
