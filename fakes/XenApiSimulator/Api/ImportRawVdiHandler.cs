using System.Net.Http.Headers;
using System.Text;
using Hypervisors.Xen.Wire;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using XenApiSimulator.Model;

namespace XenApiSimulator.Api;

/// <summary>
/// XenAPI's HTTP handler <c>PUT /import_raw_vdi</c> (xen-api <c>ocaml/xapi/import_raw_vdi.ml</c>, registered as
/// <c>put_import_raw_vdi</c> in <c>ocaml/xapi/xapi.ml</c>), in xapi's order: credentials (<c>session_id</c> from the
/// cookie or query, or HTTP Basic; 401 otherwise), the <c>vdi</c> (a reference or a uuid; an unknown one is a 500),
/// the SR (<c>VDI_MISSING</c> and 400 when neither a VDI nor an SR is named), the <c>format</c> (raw by default;
/// an unknown one is 404), then <c>200 OK</c> with a <c>task-id</c> header before the body is read, the raw body
/// written into the VDI from its start, and the outcome in the task: success with the VDI reference as result, or
/// <c>VDI_IO_ERROR ["Device I/O errors"]</c> when the body runs past the VDI's <c>virtual_size</c> or ends before
/// its <c>Content-Length</c>, <c>VDI_IN_USE</c> or <c>VDI_READONLY</c> when the VDI cannot be plugged for writing. The caller's <c>task_id</c> task receives the outcome; without one a task of the
/// handler's own carries it and is gone afterwards.
/// </summary>
internal sealed class ImportRawVdiHandler(SimDatabase db, XenApiSimulatorOptions options)
{
    /// <summary>The handler's path (xen-api <c>Constants.import_raw_vdi_uri</c>).</summary>
    public const string Path = "/import_raw_vdi";

    private const string Realm = "VDI.import";
    private const string UnauthorisedHtml =
        "<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and retry.</body></html>";
    private const string InternalErrorHtml =
        "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. " +
        "If the problem persists, please contact your support representative.";

    private static readonly string[] IoError = ["VDI_IO_ERROR", "Device I/O errors"];
    private static readonly HashSet<string> Formats = new(StringComparer.Ordinal) { "raw", "vhd", "tar", "qcow2" };

    public async Task HandleAsync(HttpContext context)
    {
        options.Control.CountCall("PUT " + Path);
        var request = context.Request;
        var (session, temporary) = Authenticate(request);
        if (session is null)
        {
            await RespondAsync(context, StatusCodes.Status401Unauthorized, UnauthorisedHtml, ("WWW-Authenticate", $"Basic realm=\"{Realm}\"")).ConfigureAwait(false);
            return;
        }

        try
        {
            var start = Prepare(request);
            if (start.Status != StatusCodes.Status200OK)
            {
                await RespondAsync(context, start.Status, start.Status == StatusCodes.Status500InternalServerError ? start.Html : null).ConfigureAwait(false);
                return;
            }

            await ReceiveAsync(context, start.Vdi!, start.Task!, start.OwnTask).ConfigureAwait(false);
        }
        finally
        {
            if (temporary)
            {
                lock (db.Gate)
                {
                    db.CloseSession(session);
                }
            }
        }
    }

    /// <summary>
    /// <c>Xapi_http.assert_credentials_ok</c>: a session reference (cookie first, then query), else Basic credentials,
    /// which log in for this request only. Null when neither is valid.
    /// </summary>
    private (string? Session, bool Temporary) Authenticate(HttpRequest request)
    {
        var session = Lookup(request, "session_id", cookieFirst: true);
        lock (db.Gate)
        {
            if (session is not null)
            {
                return db.IsSession(session) ? (session, false) : (null, false);
            }

            if (AuthenticationHeaderValue.TryParse(request.Headers.Authorization, out var header)
                && string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) && header.Parameter is { } encoded)
            {
                string decoded;
                try
                {
                    decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                }
                catch (FormatException)
                {
                    return (null, false);
                }

                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && decoded[..colon] == options.UserName && decoded[(colon + 1)..] == options.Password)
                {
                    return (db.OpenSession(options.UserName), true);
                }
            }

            return (null, false);
        }
    }

    /// <summary>Everything before the 200: the VDI, its SR, the format, the task; refusals answered as xapi answers them.</summary>
    private Start Prepare(HttpRequest request)
    {
        lock (db.Gate)
        {
            SimObject? task = null;
            if (Lookup(request, "task_id", cookieFirst: true) is { } taskId)
            {
                if (!db.Exists("task", taskId))
                {
                    return Start.Error(StatusCodes.Status500InternalServerError, $"HANDLE_INVALID(task, {taskId})");
                }

                task = db.Get("task", taskId);
            }

            SimObject? vdi = null;
            if (Lookup(request, "vdi", cookieFirst: false) is { } vdiParam)
            {
                // Importexport.vdi_of_req: a valid reference, else a uuid (an unknown one raises before the task is touched).
                vdi = db.Exists("VDI", vdiParam) ? db.Get("VDI", vdiParam) : db.All("VDI").FirstOrDefault(v => v.Uuid == vdiParam);
                if (vdi is null)
                {
                    return Start.Error(StatusCodes.Status500InternalServerError, $"UUID_INVALID(VDI, {vdiParam})");
                }
            }

            var sr = vdi is not null ? db.Get("SR", vdi.Text("SR"))
                : Lookup(request, "sr_id", cookieFirst: true) is { } srId && db.Exists("SR", srId) ? db.Get("SR", srId)
                : Lookup(request, "sr_uuid", cookieFirst: true) is { } srUuid ? db.All("SR").FirstOrDefault(s => s.Uuid == srUuid)
                : null;
            if (sr is null)
            {
                return Fail(task, StatusCodes.Status400BadRequest, "VDI_MISSING");
            }

            var format = Lookup(request, "format", cookieFirst: false) ?? "raw";
            var chunked = Lookup(request, "chunked", cookieFirst: false) is not null;
            if (!Formats.Contains(format.ToLowerInvariant()))
            {
                return Fail(task, StatusCodes.Status404NotFound, "INTERNAL_ERROR", "Unknown format " + format);
            }

            if (!format.Equals("raw", StringComparison.OrdinalIgnoreCase) && chunked)
            {
                return Fail(task, StatusCodes.Status404NotFound, "INTERNAL_ERROR", "Cannot handle chunked VHD");
            }

            if (request.Headers.TransferEncoding.ToString() is { Length: > 0 } encoding)
            {
                return Fail(task, StatusCodes.Status404NotFound, "INTERNAL_ERROR", "Cannot handle encoding: " + encoding);
            }

            if (!format.Equals("raw", StringComparison.OrdinalIgnoreCase) || chunked)
            {
                // Beyond xapi: the simulator stores raw bytes only (no vhd-tool to decode VHD, tar or qcow2 streams).
                return Fail(task, StatusCodes.Status404NotFound, "INTERNAL_ERROR", "The simulator imports raw bodies only, not " + format + (chunked ? " chunked" : string.Empty));
            }

            if (vdi is null)
            {
                if (request.ContentLength is not { } length)
                {
                    return Fail(task, StatusCodes.Status400BadRequest, "INTERNAL_ERROR", "Not enough info supplied to import");
                }

                var record = SimRecords.Vdi(sr.Ref, "Imported VDI", length);
                vdi = db.Add("VDI", record);
                sr["VDIs"] = SimMethodTable.Append(sr.Refs("VDIs"), vdi.Ref);
                db.Modified(sr);
            }

            if (options.Control.ImportsFail)
            {
                Fail(task, StatusCodes.Status500InternalServerError, "INTERNAL_ERROR", "Simulated failure of the import handler");
                return Start.Error(StatusCodes.Status500InternalServerError, "Simulated failure of the import handler");
            }

            var own = task is null;
            task ??= db.Add("task", SimRecords.Task(Realm, db.First("host").Ref, db.Clock.GetUtcNow().UtcDateTime));
            return new Start(StatusCodes.Status200OK, vdi, task, own, null);
        }
    }

    /// <summary>Sends the 200 with the task's id, then writes the body into the VDI and finishes the task.</summary>
    private async Task ReceiveAsync(HttpContext context, SimObject vdi, SimObject task, bool ownTask)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.Connection = "close";
        response.Headers.CacheControl = "no-cache, no-store";
        response.Headers["task-id"] = task.Ref;
        response.ContentType = "application/octet-stream";
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        long capacity;
        lock (db.Gate)
        {
            capacity = vdi.Long("virtual_size");
        }

        var expected = context.Request.ContentLength;
        var breakAfter = options.Control.ImportBreakAfter;
        long written = 0;
        var failed = false;
        var buffer = new byte[1 << 16];
        try
        {
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            string[]? refusal;
            lock (db.Gate)
            {
                refusal = AttachRefusal(vdi);
                if (refusal is not null)
                {
                    // The plug of the VDI into dom0 fails after the 200: the task carries the error, the body is not read.
                    XenApiDispatcher.FinishTask(db, task, "failure", string.Empty, refusal);
                    if (ownTask)
                    {
                        db.Remove(task);
                    }
                }
            }

            if (refusal is not null)
            {
                return;
            }

            var file = db.Disks.OpenForWrite(vdi.Uuid);
            await using (file.ConfigureAwait(false))
            {
                while (true)
                {
                    var want = breakAfter is { } cut ? (int)Math.Min(buffer.Length, Math.Max(0, cut - written)) : buffer.Length;
                    if (want == 0)
                    {
                        // Test control: the connection breaks in the middle of the body.
                        context.Abort();
                        failed = true;
                        break;
                    }

                    var read = await context.Request.Body.ReadAsync(buffer.AsMemory(0, want), context.RequestAborted).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    if (failed || written + read > capacity)
                    {
                        // A write past the end of the device fails (vhd-tool exits non-zero: VDI_IO_ERROR). xapi closes
                        // the connection then; the simulator reads the rest so the client gets to the task.
                        failed = true;
                        continue;
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted).ConfigureAwait(false);
                    written += read;
                }
            }

            failed |= expected is { } length && written < length;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            failed = true;
        }

        lock (db.Gate)
        {
            if (db.Exists("task", task.Ref))
            {
                if (failed)
                {
                    XenApiDispatcher.FinishTask(db, task, "failure", string.Empty, IoError);
                }
                else
                {
                    XenApiDispatcher.FinishTask(db, task, "success", XmlRpcWriter.EncodeValue(vdi.Ref), []);
                }

                if (ownTask)
                {
                    db.Remove(task);
                }
            }

            if (!failed && db.Exists("VDI", vdi.Ref))
            {
                vdi["physical_utilisation"] = Math.Max(vdi.Long("physical_utilisation"), written);
                db.Modified(vdi);
            }
        }
    }

    /// <summary>
    /// Why the VDI cannot be plugged read-write into dom0 for the import (<c>Xapi_vbd_helpers.valid_operations</c>):
    /// <c>VDI_READONLY [vdi]</c> for a read-only VDI; <c>VDI_IN_USE [vdi]</c> while a VBD of a VM that is not
    /// suspended has it attached read-write and it is not sharable. Null when the plug would succeed.
    /// </summary>
    private string[]? AttachRefusal(SimObject vdi)
    {
        var attachedReadWrite = vdi.Refs("VBDs").Where(r => db.Exists("VBD", r)).Select(r => db.Get("VBD", r)).Any(vbd =>
            vbd.Bool("currently_attached") && vbd.Text("mode") == "RW"
            && !(db.Exists("VM", vbd.Text("VM")) && db.Get("VM", vbd.Text("VM")).Text("power_state") == "Suspended"));
        return !vdi.Bool("sharable") && attachedReadWrite ? ["VDI_IN_USE", vdi.Ref]
            : vdi.Bool("read_only") ? ["VDI_READONLY", vdi.Ref]
            : null;
    }

    /// <summary>Fails the caller's task (if any) with the error and answers with <paramref name="status"/> and no body, as xapi's header-only answers.</summary>
    private Start Fail(SimObject? task, int status, params string[] error)
    {
        if (task is not null && task.Text("status") == "pending")
        {
            XenApiDispatcher.FinishTask(db, task, "failure", string.Empty, error);
        }

        return Start.Error(status, string.Join(", ", error));
    }

    /// <summary>A parameter from the cookie or the query string (xapi looks in both; which comes first depends on the parameter).</summary>
    private static string? Lookup(HttpRequest request, string name, bool cookieFirst)
    {
        var fromCookie = request.Cookies.TryGetValue(name, out var cookie) ? cookie : null;
        var fromQuery = request.Query.TryGetValue(name, out var query) ? query.ToString() : null;
        return cookieFirst ? fromCookie ?? fromQuery : fromQuery ?? fromCookie;
    }

    private static async Task RespondAsync(HttpContext context, int status, string? html, params (string Name, string Value)[] headers)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.Connection = "close";
        response.Headers.CacheControl = "no-cache, no-store";
        foreach (var (name, value) in headers)
        {
            response.Headers[name] = value;
        }

        if (html is null)
        {
            response.ContentLength = 0;
            return;
        }

        var body = status == StatusCodes.Status500InternalServerError
            ? InternalErrorHtml + "<h1> Additional information </h1>" + System.Net.WebUtility.HtmlEncode(html) + "</body></html>"
            : html;
        response.ContentType = "text/html";
        await response.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private sealed record Start(int Status, SimObject? Vdi, SimObject? Task, bool OwnTask, string? Html)
    {
        public static Start Error(int status, string detail) => new(status, null, null, false, detail);
    }
}
