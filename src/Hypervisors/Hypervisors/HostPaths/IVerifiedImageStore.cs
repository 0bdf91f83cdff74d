namespace Hypervisors;

/// <summary>
/// A component of this process that produces disk images itself and vouches for them (an image cache whose entries
/// were downloaded, verified against a digest and probed before they were stored). A driver's
/// <see cref="HostPathPolicy"/> accepts a disk whose image reference is one of these files even when the operator did
/// not list the store's directory among the driver's allowed host directories.
/// </summary>
/// <remarks>
/// The store answers only for files it made and still holds; it must refuse anything else in its directories
/// (temporary files of a download in progress, metadata files), since a refusal is what keeps a request from naming them.
/// </remarks>
public interface IVerifiedImageStore
{
    /// <summary>
    /// Whether <paramref name="resolvedPath"/> (absolute, with every symbolic link already resolved) is a complete,
    /// verified disk image this store produced and still holds.
    /// </summary>
    bool HoldsVerifiedImage(string resolvedPath);
}
