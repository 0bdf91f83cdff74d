using System.Buffers.Binary;
using System.Diagnostics;
using Hypervisors.HostTools;
using System.Globalization;

namespace Hypervisors.Libvirt.Storage;

/// <summary>
/// Creates instance disks with <c>qemu-img</c>: qcow2 overlays on a base image (copy-on-write, as Nova's image
/// backend does) and blank qcow2 disks. Arguments go through <see cref="ProcessStartInfo.ArgumentList"/>, never a
/// command line string.
/// </summary>
internal sealed class QemuImg(string program)
{
    private const long GiB = 1024L * 1024 * 1024;

    /// <summary>Creates <paramref name="overlay"/> backed by <paramref name="baseImage"/>, at least <paramref name="sizeGiB"/> large.</summary>
    public async Task CreateOverlayAsync(string baseImage, string overlay, long sizeGiB, CancellationToken cancellationToken)
    {
        var (format, virtualSize) = await ProbeAsync(baseImage, cancellationToken).ConfigureAwait(false);
        var size = Math.Max(sizeGiB * GiB, virtualSize);
        await RunAsync(["create", "-q", "-f", "qcow2", "-F", format, "-b", baseImage, overlay, size.ToString(CultureInfo.InvariantCulture)], cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Creates a blank qcow2 disk of <paramref name="sizeGiB"/> GiB.</summary>
    public Task CreateBlankAsync(string path, long sizeGiB, CancellationToken cancellationToken) =>
        RunAsync(["create", "-q", "-f", "qcow2", path, (sizeGiB * GiB).ToString(CultureInfo.InvariantCulture)], cancellationToken);

    /// <summary>
    /// The format ("qcow2" or "raw") and virtual size of an image, read from its header: a qcow2 file starts with
    /// "QFI\xfb" and holds its size at offset 24; anything else is taken as raw.
    /// </summary>
    public static async Task<(string Format, long VirtualSize)> ProbeAsync(string path, CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            var header = new byte[32];
            var read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read >= 32 && header[0] == (byte)'Q' && header[1] == (byte)'F' && header[2] == (byte)'I' && header[3] == 0xfb)
            {
                return ("qcow2", BinaryPrimitives.ReadInt64BigEndian(header.AsSpan(24, 8)));
            }

            return ("raw", stream.Length);
        }
    }

    private async Task RunAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        HostToolResult result;
        try
        {
            result = await HostToolProcess.RunAsync(program, arguments, cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new HypervisorException($"{program} could not be started (is qemu-utils installed?): {ex.Message}", ex);
        }

        if (result.ExitCode != 0)
        {
            throw new HypervisorException($"{program} {arguments[0]} failed with exit code {result.ExitCode}: {result.Error.Trim()}");
        }
    }
}
