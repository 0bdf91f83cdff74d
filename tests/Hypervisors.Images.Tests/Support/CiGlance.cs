using System.Diagnostics;
using Hypervisors.Images.Glance;
using Hypervisors.Testing;

namespace Hypervisors.Images.Tests.Support;

/// <summary>
/// The glance-api that .ci/setup/25-glance.sh starts on loopback (SQLite, file store, no auth). Tests share it the way
/// they share libvirtd: each uploads its own images under fresh ids and deletes them when done.
/// </summary>
internal sealed class CiGlance : IAsyncDisposable
{
    public static readonly Uri Endpoint = new(Environment.GetEnvironmentVariable("HYPERVISORS_GLANCE_URL") ?? "http://127.0.0.1:9292");

    private readonly List<Guid> _uploaded = [];

    private CiGlance(HttpClient http, GlanceClient client)
    {
        Http = http;
        Client = client;
    }

    public HttpClient Http { get; }

    public GlanceClient Client { get; }

    /// <summary>Skips (fails under CI) unless Glance answers.</summary>
    public static async Task<CiGlance> ConnectAsync(CancellationToken cancellationToken)
    {
        var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var up = false;
        try
        {
            using var response = await http.GetAsync(new Uri(Endpoint, "versions"), cancellationToken);
            up = response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
        }

        if (!up)
        {
            http.Dispose();
        }

        ExternalParts.Require(up, $"glance-api at {Endpoint} (.ci/setup/25-glance.sh)");
        return new CiGlance(http, new GlanceClient(http, new GlanceClientOptions { Endpoint = Endpoint, ResumeDelay = TimeSpan.FromMilliseconds(20) }));
    }

    /// <summary>Uploads <paramref name="path"/> as an image that is deleted when this is disposed.</summary>
    public async Task<GlanceImage> UploadAsync(string path, string diskFormat, CancellationToken cancellationToken, string containerFormat = "bare")
    {
        var created = await Client.CreateImageAsync(new GlanceImageCreate("hvtest-" + Guid.NewGuid().ToString("N")[..8], diskFormat, containerFormat), cancellationToken);
        _uploaded.Add(created.Id);
        await using var file = File.OpenRead(path);
        await Client.UploadAsync(created.Id, file, cancellationToken);
        return await Client.GetImageAsync(created.Id, cancellationToken);
    }

    /// <summary>Creates an image record without data (status queued), deleted when this is disposed.</summary>
    public async Task<GlanceImage> CreateQueuedAsync(CancellationToken cancellationToken)
    {
        var created = await Client.CreateImageAsync(new GlanceImageCreate("hvtest-queued", "raw"), cancellationToken);
        _uploaded.Add(created.Id);
        return created;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var id in _uploaded)
        {
            await Client.DeleteImageAsync(id, CancellationToken.None);
        }

        Http.Dispose();
    }
}

/// <summary>Image files made with qemu-img in a temporary folder removed on dispose.</summary>
internal sealed class ImageFiles : IDisposable
{
    public ImageFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "hvimg-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>A raw file of <paramref name="bytes"/> random bytes.</summary>
    public string Raw(string name, int bytes)
    {
        var path = PathOf(name);
        var data = new byte[bytes];
        Random.Shared.NextBytes(data);
        File.WriteAllBytes(path, data);
        return path;
    }

    /// <summary>A qcow2 holding <paramref name="bytes"/> random bytes.</summary>
    public string Qcow2(string name, int bytes)
    {
        var raw = Raw(name + ".src", bytes);
        var path = PathOf(name);
        QemuImg("convert", "-q", "-f", "raw", "-O", "qcow2", raw, path);
        File.Delete(raw);
        return path;
    }

    public static string QemuImg(params string[] arguments)
    {
        var start = new ProcessStartInfo("qemu-img") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"qemu-img {string.Join(' ', arguments)}: {error}");
        return output;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
