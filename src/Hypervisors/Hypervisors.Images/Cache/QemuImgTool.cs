using System.Diagnostics;
using Hypervisors.HostTools;
using System.Globalization;
using System.Text.Json;

namespace Hypervisors.Images.Cache;

/// <summary>What <c>qemu-img info --output=json</c> says of a file: its probed format and what it refers to.</summary>
/// <param name="Format">The format qemu-img probed from the bytes ("raw", "qcow2", "vmdk", ...).</param>
/// <param name="VirtualSize">The disk's size as the guest sees it, in bytes.</param>
/// <param name="BackingFile">The backing file named in the header, or null.</param>
/// <param name="DataFile">A qcow2 external data file, or null.</param>
/// <param name="VmdkCreateType">A VMDK's create-type ("monolithicSparse", "streamOptimized", "twoGbMaxExtentFlat", ...), or null.</param>
/// <param name="VmdkExtentFiles">The files a VMDK's extents live in.</param>
/// <param name="Encrypted">Whether the image is encrypted.</param>
public sealed record QemuImageInfo(
    string Format, long VirtualSize, string? BackingFile, string? DataFile, string? VmdkCreateType, IReadOnlyList<string> VmdkExtentFiles, bool Encrypted);

/// <summary>
/// Runs <c>qemu-img</c>: <c>info --output=json</c> to probe a file (qemu-img opens it without its backing chain) and
/// <c>convert</c>. Each run goes through <c>prlimit</c> where it exists, capping address space and CPU time as
/// Nova does, so a crafted header cannot make the probe eat the host. Arguments go through
/// <see cref="ProcessStartInfo.ArgumentList"/>, never a command line string.
/// </summary>
public sealed class QemuImgTool(string program = "qemu-img", string? prlimitProgram = "/usr/bin/prlimit")
{
    private const long ProbeAddressSpaceBytes = 1L << 30;
    private const int ProbeCpuSeconds = 30;

    /// <summary>Probes <paramref name="path"/>; the format is read from the bytes, never passed in.</summary>
    public async Task<QemuImageInfo> InfoAsync(string path, CancellationToken cancellationToken)
    {
        var json = await RunAsync(["info", "--output=json", path], limit: true, cancellationToken).ConfigureAwait(false);
        return ParseInfo(json);
    }

    /// <summary>Converts <paramref name="source"/> (of the probed <paramref name="sourceFormat"/>) to <paramref name="target"/> in <paramref name="targetFormat"/>.</summary>
    public Task ConvertAsync(string source, string sourceFormat, string target, string targetFormat, CancellationToken cancellationToken, IReadOnlyList<string>? targetOptions = null)
    {
        List<string> arguments = ["convert", "-q", "-f", sourceFormat, "-O", targetFormat];
        if (targetOptions is { Count: > 0 })
        {
            arguments.Add("-o");
            arguments.Add(string.Join(',', targetOptions));
        }

        arguments.Add(source);
        arguments.Add(target);
        return RunAsync(arguments, limit: false, cancellationToken);
    }

    /// <summary>Reads the JSON of <c>qemu-img info</c>.</summary>
    public static QemuImageInfo ParseInfo(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        string? dataFile = null;
        string? createType = null;
        List<string> extents = [];
        var encrypted = root.TryGetProperty("encrypted", out var enc) && enc.ValueKind == JsonValueKind.True;
        if (root.TryGetProperty("format-specific", out var specific) && specific.TryGetProperty("data", out var data))
        {
            if (data.TryGetProperty("data-file", out var df) && df.ValueKind == JsonValueKind.String)
            {
                dataFile = df.GetString();
            }

            if (data.TryGetProperty("create-type", out var ct) && ct.ValueKind == JsonValueKind.String)
            {
                createType = ct.GetString();
            }

            if (data.TryGetProperty("extents", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                extents.AddRange(list.EnumerateArray()
                    .Where(e => e.TryGetProperty("filename", out var f) && f.ValueKind == JsonValueKind.String)
                    .Select(e => e.GetProperty("filename").GetString()!));
            }

            if (data.TryGetProperty("encrypt", out _))
            {
                encrypted = true;
            }
        }

        return new QemuImageInfo(
            root.GetProperty("format").GetString() ?? string.Empty,
            root.GetProperty("virtual-size").GetInt64(),
            root.TryGetProperty("backing-filename", out var backing) ? backing.GetString() : null,
            dataFile,
            createType,
            extents,
            encrypted);
    }

    private async Task<string> RunAsync(IReadOnlyList<string> arguments, bool limit, CancellationToken cancellationToken)
    {
        var useLimits = limit && prlimitProgram is not null && File.Exists(prlimitProgram);
        List<string> commandLine = useLimits
            ? ["--as=" + ProbeAddressSpaceBytes.ToString(CultureInfo.InvariantCulture), "--cpu=" + ProbeCpuSeconds.ToString(CultureInfo.InvariantCulture), "--", program, .. arguments]
            : [.. arguments];
        HostToolResult result;
        try
        {
            result = await HostToolProcess.RunAsync(useLimits ? prlimitProgram! : program, commandLine, cancellationToken).ConfigureAwait(false);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new HypervisorException($"{program} could not be started (is qemu-utils installed?): {ex.Message}", ex);
        }

        if (result.ExitCode != 0)
        {
            throw new HypervisorException($"{program} {arguments[0]} failed with exit code {result.ExitCode}: {result.Error.Trim()}");
        }

        return result.Output;
    }
}
