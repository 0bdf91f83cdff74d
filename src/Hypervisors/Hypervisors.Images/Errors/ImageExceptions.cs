namespace Hypervisors.Images;

/// <summary>The base of the errors raised while resolving, fetching, verifying or converting an image.</summary>
public class ImageException : HypervisorException
{
    /// <summary>Creates an error about the image <paramref name="imageRef"/>.</summary>
    public ImageException(HypervisorErrorKind kind, string imageRef, string message, Exception? innerException = null)
        : base(kind, $"Image '{imageRef}': {message}", innerException) => ImageRef = imageRef;

    /// <summary>The image reference concerned, as the caller wrote it.</summary>
    public string ImageRef { get; }
}

/// <summary>An image reference that is malformed, names a path outside the allowed directories, or an image that does not exist or is not active.</summary>
public sealed class InvalidImageReferenceException(string imageRef, string message, Exception? innerException = null)
    : ImageException(HypervisorErrorKind.InvalidSpec, imageRef, message, innerException);

/// <summary>
/// The bytes received are not the bytes promised: a digest, checksum, size or manifest mismatch, or a download that
/// ended early. Nothing of it is kept.
/// </summary>
public sealed class ImageIntegrityException(string imageRef, string message, Exception? innerException = null)
    : ImageException(HypervisorErrorKind.InvalidSpec, imageRef, message, innerException);

/// <summary>
/// The image is refused for what it is: a format that is not allowed, a qcow2 with a backing file or an external
/// data file, a VMDK that names other files, a size over the limits.
/// </summary>
public sealed class UnsafeImageException(string imageRef, string message, Exception? innerException = null)
    : ImageException(HypervisorErrorKind.InvalidSpec, imageRef, message, innerException);

/// <summary>The image source (Glance, an HTTPS server) failed or could not be reached; a later try may succeed.</summary>
public sealed class ImageSourceUnavailableException(string imageRef, string message, Exception? innerException = null)
    : ImageException(HypervisorErrorKind.Unavailable, imageRef, message, innerException);

/// <summary>The image source refused the credentials.</summary>
public sealed class ImageSourceAuthenticationException(string imageRef, string message)
    : ImageException(HypervisorErrorKind.AuthenticationFailed, imageRef, message);

/// <summary>The host has too little free space for the image.</summary>
public sealed class ImageCacheFullException(string imageRef, string message)
    : ImageException(HypervisorErrorKind.InsufficientResources, imageRef, message);

/// <summary>A cached image cannot be deleted because instances still run on it.</summary>
public sealed class ImageInUseException(string cacheKey, int instanceCount)
    : ImageException(HypervisorErrorKind.InvalidSpec, cacheKey, $"{instanceCount} instance(s) still use the cached image.")
{
    /// <summary>How many instances hold the image.</summary>
    public int InstanceCount { get; } = instanceCount;
}

/// <summary>An OVF descriptor or OVA package that is malformed or refused; <see cref="Element"/> and <see cref="Line"/> say where.</summary>
public sealed class OvfFormatException(string element, int line, string message, Exception? innerException = null)
    : HypervisorException(HypervisorErrorKind.InvalidSpec, line > 0 ? $"OVF <{element}> at line {line}: {message}" : $"OVF {element}: {message}", innerException)
{
    /// <summary>The element (or, for a package, the entry) at fault.</summary>
    public string Element { get; } = element;

    /// <summary>The line of the element in the descriptor, or 0 where there is none (a package entry).</summary>
    public int Line { get; } = line;
}
