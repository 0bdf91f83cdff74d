using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Images.Tests.Support;

/// <summary>
/// A loopback HTTP server on port 0 in front of the real Glance that misbehaves on request: it breaks image-data
/// responses off after some bytes, answers 500 after a break, ends bodies early, or alters the image record's hash.
/// It also serves plain files for https-style references.
/// </summary>
internal sealed class FaultyGlanceProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream = new();
    private int _fileRequests;
    private int _showRequests;

    private FaultyGlanceProxy(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>Break the first this-many data responses off after <see cref="BreakAfterBytes"/> bytes (int.MaxValue: every one).</summary>
    public int BreaksLeft { get; set; }

    public int BreakAfterBytes { get; set; } = 64 * 1024;

    /// <summary>End bodies after <see cref="BreakAfterBytes"/> bytes cleanly (chunked, no Content-Length) instead of aborting.</summary>
    public bool EndCleanly { get; set; }

    /// <summary>After the first break, answer every data request with 500.</summary>
    public bool FailAfterBreak { get; set; }

    /// <summary>Replace the os_hash_value of image records with this.</summary>
    public string? TamperedHash { get; set; }

    /// <summary>Files served at /files/{name}.</summary>
    public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>The number of data requests seen (each resume is one).</summary>
    public int FileRequests => Volatile.Read(ref _fileRequests);

    /// <summary>The number of image shows seen (GET /v2/images/{id}).</summary>
    public int ShowRequests => Volatile.Read(ref _showRequests);

    /// <summary>The Range headers of the data requests, in order.</summary>
    public List<string?> Ranges { get; } = [];

    public static async Task<FaultyGlanceProxy> StartAsync(Uri glance, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FaultyGlanceProxy? proxy = null;
        app.Run(context => proxy!.HandleAsync(glance, context));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy = new FaultyGlanceProxy(app, new Uri(address));
        return proxy;
    }

    private async Task HandleAsync(Uri glance, HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (path.StartsWith("/files/", StringComparison.Ordinal))
        {
            if (!Files.TryGetValue(path["/files/".Length..], out var content))
            {
                context.Response.StatusCode = 404;
                return;
            }

            Interlocked.Increment(ref _fileRequests);
            await WriteBodyAsync(context, content, 0, content.Length);
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), new Uri(glance, path));
        var isData = path.EndsWith("/file", StringComparison.Ordinal);
        if (!isData && context.Request.Method == "GET" && path.StartsWith("/v2/images/", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _showRequests);
        }

        if (isData)
        {
            Interlocked.Increment(ref _fileRequests);
            lock (Ranges)
            {
                Ranges.Add(context.Request.Headers.Range.ToString() is { Length: > 0 } r ? r : null);
            }

            if (FailAfterBreak && BreaksLeft == 0 && FileRequests > 1)
            {
                context.Response.StatusCode = 500;
                return;
            }

            if (context.Request.Headers.Range.Count > 0)
            {
                request.Headers.TryAddWithoutValidation("Range", context.Request.Headers.Range.ToString());
            }
        }

        using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        if (!isData)
        {
            var json = await response.Content.ReadAsStringAsync(context.RequestAborted);
            if (TamperedHash is not null && JsonNode.Parse(json) is JsonObject record && record.ContainsKey("os_hash_value"))
            {
                record["os_hash_value"] = TamperedHash;
                json = record.ToJsonString();
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(json, context.RequestAborted);
            return;
        }

        if (response.Content.Headers.ContentRange is { } range)
        {
            context.Response.Headers.ContentRange = range.ToString();
        }

        var body = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        await WriteBodyAsync(context, body, 0, body.Length);
    }

    private async Task WriteBodyAsync(HttpContext context, byte[] body, int offset, int count)
    {
        var breakNow = BreaksLeft > 0;
        if (breakNow && BreaksLeft != int.MaxValue)
        {
            BreaksLeft--;
        }

        if (!breakNow || !EndCleanly)
        {
            context.Response.ContentLength = count;
        }

        var send = breakNow ? Math.Min(count, BreakAfterBytes) : count;
        await context.Response.Body.WriteAsync(body.AsMemory(offset, send), context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        if (breakNow && !EndCleanly)
        {
            context.Abort();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
