using System.Net;
using System.Text;
using System.Xml.Linq;

namespace Hypervisors.Esx.Tests.Wire;

/// <summary>
/// An in-process vSphere endpoint for wire tests: answers RetrieveServiceContent and Login itself (with a fresh
/// session cookie per login) and hands every other call, by method name, to the test's script.
/// </summary>
internal sealed class ScriptedVimHandler(Func<string, XElement, HttpResponseMessage> script) : HttpMessageHandler
{
    public static readonly XNamespace Vim = "urn:vim25";

    private int _logins;

    private readonly List<(string Method, XElement Body, string? Cookie)> _requests = [];

    /// <summary>
    /// A snapshot of the requests so far. The client may still send some after a call returns (filter clean-up runs
    /// off the caller's path), so the list itself is only touched under its lock.
    /// </summary>
    public IReadOnlyList<(string Method, XElement Body, string? Cookie)> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public string CurrentCookie => "vmware_soap_session=\"session-" + _logins + "\"";

    public static HttpResponseMessage Ok(string method, string returnvalXml = "") =>
        Xml(HttpStatusCode.OK, $"<{method}Response xmlns=\"urn:vim25\">{returnvalXml}</{method}Response>");

    public static HttpResponseMessage Fault(string type, string detailXml = "", string message = "canned fault") =>
        Xml(HttpStatusCode.InternalServerError,
            $"<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>{message}</faultstring><detail><{type}Fault xmlns=\"urn:vim25\" xsi:type=\"{type}\">{detailXml}</{type}Fault></detail></soapenv:Fault>");

    public static HttpResponseMessage Xml(HttpStatusCode status, string bodyXml, string prolog = "") => new(status)
    {
        Content = new StringContent(
            prolog + "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
            + bodyXml + "</soapenv:Body></soapenv:Envelope>", Encoding.UTF8, "text/xml"),
    };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var envelope = XElement.Parse(await request.Content!.ReadAsStringAsync(cancellationToken));
        var body = envelope.Elements().Single().Elements().Single();
        var cookie = request.Headers.TryGetValues("Cookie", out var values) ? values.Single() : null;
        lock (_requests)
        {
            _requests.Add((body.Name.LocalName, body, cookie));
        }

        switch (body.Name.LocalName)
        {
            case "RetrieveServiceContent":
                return Ok("RetrieveServiceContent",
                    "<returnval><rootFolder type=\"Folder\">root</rootFolder><propertyCollector type=\"PropertyCollector\">pc</propertyCollector>"
                    + "<viewManager type=\"ViewManager\">vm</viewManager><about><fullName>Scripted</fullName><version>7.0</version><apiType>HostAgent</apiType></about>"
                    + "<sessionManager type=\"SessionManager\">sm</sessionManager><searchIndex type=\"SearchIndex\">si</searchIndex></returnval>");
            case "Login":
                var answer = script("Login", body);
                if (answer.IsSuccessStatusCode)
                {
                    _logins++;
                    answer.Headers.Add("Set-Cookie", CurrentCookie + "; Path=/; HttpOnly");
                }

                return answer;
            default:
                return script(body.Name.LocalName, body);
        }
    }
}
