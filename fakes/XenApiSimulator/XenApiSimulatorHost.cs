using System.Net;
using Hypervisors.Xen.Wire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XenApiSimulator.Api;
using XenApiSimulator.Model;

namespace XenApiSimulator;

/// <summary>
/// The simulator as a Kestrel server on a loopback port: XML-RPC at <c>POST /</c> and <c>POST /RPC2</c>, JSON-RPC at
/// <c>POST /jsonrpc</c>. Start one in-process with <see cref="StartAsync"/>; the console entry point runs the same.
/// </summary>
public sealed class XenApiSimulatorHost : IAsyncDisposable
{
    private const int MaxRequestBytes = 64 * 1024 * 1024;
    private const string MalformedHtml =
        "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. " +
        "If the problem persists, please contact your support representative.</body></html>";

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;

    private XenApiSimulatorHost(WebApplication app, SimDatabase database, XenApiSimulatorOptions options, Uri url, CancellationTokenSource stopping)
    {
        _app = app;
        Database = database;
        Options = options;
        Url = url;
        _stopping = stopping;
    }

    /// <summary>The server's base URL, e.g. <c>http://127.0.0.1:40123/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The simulated database (lock <see cref="SimDatabase.Gate"/> to read or change it).</summary>
    public SimDatabase Database { get; }

    /// <summary>The options it runs with.</summary>
    public XenApiSimulatorOptions Options { get; }

    /// <summary>Starts a simulator on 127.0.0.1 (<paramref name="port"/> 0 picks a free port).</summary>
    public static async Task<XenApiSimulatorHost> StartAsync(XenApiSimulatorOptions? options = null, int port = 0, CancellationToken cancellationToken = default)
    {
        options ??= new XenApiSimulatorOptions();
        var database = new SimDatabase { EventLogCapacity = options.EventLogCapacity };
        lock (database.Gate)
        {
            SimSeed.Populate(database, options);
        }

        var stopping = new CancellationTokenSource();
        var dispatcher = new XenApiDispatcher(database, options, stopping.Token);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, Hypervisors.Fakes.HostedWithoutSignals>();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                if (options.Certificate is { } certificate)
                {
                    listen.UseHttps(certificate);
                }
            });
            k.Limits.MaxRequestBodySize = MaxRequestBytes;
        });
        var app = builder.Build();
        app.MapPost("/", context => HandleXmlRpcAsync(context, dispatcher));
        app.MapPost("/RPC2", context => HandleXmlRpcAsync(context, dispatcher));
        app.MapPost("/jsonrpc", context => HandleJsonRpcAsync(context, dispatcher));
        var import = new ImportRawVdiHandler(database, options);
        app.MapPut(ImportRawVdiHandler.Path, import.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new UriBuilder(address) { Host = "127.0.0.1", Path = "/" }.Uri;
        return new XenApiSimulatorHost(app, database, options, url, stopping);
    }

    /// <summary>Invalidates every session, as a xapi restart would: the next call with an old session gets SESSION_INVALID.</summary>
    public void KillAllSessions()
    {
        lock (Database.Gate)
        {
            Database.KillAllSessions();
        }
    }

    /// <summary>Adds a VDI to the default SR (as a storage admin would) and returns its UUID; a test hook for volumes.</summary>
    public string CreateVdi(string name, long virtualSizeBytes)
    {
        lock (Database.Gate)
        {
            var sr = Database.Get("SR", Database.First("pool").Text("default_SR"));
            var vdi = Database.Add("VDI", SimRecords.Vdi(sr.Ref, name, virtualSizeBytes));
            sr["VDIs"] = SimMethodTable.Append(sr.Refs("VDIs"), vdi.Ref);
            Database.Modified(sr);
            return vdi.Uuid;
        }
    }

    /// <summary>The first <paramref name="count"/> bytes of a VDI (by reference or uuid), zeros where nothing was written.</summary>
    public byte[] ReadVdi(string vdiRefOrUuid, int count)
    {
        ArgumentNullException.ThrowIfNull(vdiRefOrUuid);
        string uuid;
        lock (Database.Gate)
        {
            uuid = (Database.All("VDI").FirstOrDefault(v => v.Ref == vdiRefOrUuid || v.Uuid == vdiRefOrUuid)
                ?? throw new XenApiFailureException("HANDLE_INVALID", ["VDI", vdiRefOrUuid])).Uuid;
        }

        return Database.Disks.Read(uuid, count);
    }

    /// <summary>
    /// Installs PV drivers in the guest of the VM with this reference or <c>name_label</c> (a control for tests: what a
    /// user installing the guest tools does). From now on the guest reports them whenever it runs; a running guest
    /// reports them at once, so clean shutdown, clean reboot, suspend and hot-plug work on it.
    /// </summary>
    public void InstallPvDrivers(string vmRefOrName)
    {
        ArgumentNullException.ThrowIfNull(vmRefOrName);
        lock (Database.Gate)
        {
            var vm = Database.All("VM").FirstOrDefault(v => v.Ref == vmRefOrName || v.Text("name_label") == vmRefOrName)
                ?? throw new XenApiFailureException("HANDLE_INVALID", ["VM", vmRefOrName]);
            SimGuests.InstallPvDrivers(Database, vm);
        }
    }

    /// <summary>The number of tasks in the database (pending or finished, not yet destroyed).</summary>
    public int TaskCount
    {
        get
        {
            lock (Database.Gate)
            {
                return Database.All("task").Count();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Database.Disks.Dispose();
    }

    private static async Task HandleXmlRpcAsync(HttpContext context, XenApiDispatcher dispatcher)
    {
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        XmlRpcCall call;
        try
        {
            call = XmlRpcReader.ReadCall(body);
        }
        catch (XenApiProtocolException)
        {
            await WriteMalformedAsync(context).ConfigureAwait(false);
            return;
        }

        Dictionary<string, object?> envelope;
        try
        {
            var value = await dispatcher.InvokeAsync(call.MethodName, call.Parameters, context.RequestAborted).ConfigureAwait(false);
            envelope = new Dictionary<string, object?>(StringComparer.Ordinal) { ["Status"] = "Success", ["Value"] = value };
        }
        catch (XenApiFailureException failure)
        {
            envelope = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["Status"] = "Failure",
                ["ErrorDescription"] = (string[])[failure.Code, .. failure.Parameters],
            };
        }

        using var output = new MemoryStream();
        XmlRpcWriter.WriteResponse(output, envelope);
        context.Response.ContentType = "text/xml";
        context.Response.ContentLength = output.Length;
        await context.Response.Body.WriteAsync(output.GetBuffer().AsMemory(0, (int)output.Length), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task HandleJsonRpcAsync(HttpContext context, XenApiDispatcher dispatcher)
    {
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        JsonRpcCall call;
        try
        {
            call = JsonRpcCodec.DecodeCall(body);
        }
        catch (XenApiProtocolException)
        {
            await WriteMalformedAsync(context).ConfigureAwait(false);
            return;
        }

        byte[] response;
        try
        {
            var value = await dispatcher.InvokeAsync(call.MethodName, call.Parameters, context.RequestAborted).ConfigureAwait(false);
            response = JsonRpcCodec.EncodeResult(value, call.Id, call.IsVersion2);
        }
        catch (XenApiFailureException failure)
        {
            response = JsonRpcCodec.EncodeError(failure.Code, failure.Parameters, call.Id, call.IsVersion2);
        }

        context.Response.ContentType = "application/json";
        context.Response.ContentLength = response.Length;
        await context.Response.Body.WriteAsync(response, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static async Task WriteMalformedAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
        context.Response.ContentType = "text/html";
        await context.Response.WriteAsync(MalformedHtml, context.RequestAborted).ConfigureAwait(false);
    }
}
