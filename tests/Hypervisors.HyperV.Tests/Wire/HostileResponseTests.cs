using System.Net;
using System.Text;
using Hypervisors.HyperV.Wire;
using HyperVSimulator;

namespace Hypervisors.HyperV.Tests;

/// <summary>
/// Malformed and hostile answers end in typed errors, never a hang: each test points the driver at a scripted
/// <see cref="HttpMessageHandler"/> (or the simulator made hostile) and expects a <see cref="HypervisorException"/>.
/// </summary>
public sealed class HostileResponseTests
{
    private const string Soap = "http://www.w3.org/2003/05/soap-envelope";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class ScriptedHandler(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return respond(request, cancellationToken);
        }
    }

    private static HyperVDriver DriverWith(HttpMessageHandler handler, Action<HyperVDriverOptions>? adjust = null)
    {
        var options = new HyperVDriverOptions
        {
            Url = new Uri("http://hyperv.invalid:5985/wsman"),
            UserName = "user",
            Password = "secret",
            HttpMessageHandler = handler,
            HttpTimeout = TimeSpan.FromSeconds(30),
            MaxResponseBytes = 64 * 1024,
        };
        adjust?.Invoke(options);
        return new HyperVDriver(options);
    }

    private static HttpResponseMessage Xml(string body, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/soap+xml") };

    private static ScriptedHandler Always(Func<HttpResponseMessage> response) => new((_, _) => Task.FromResult(response()));

    [Fact]
    public async Task A_truncated_envelope_is_a_malformed_response_error()
    {
        await using var driver = DriverWith(Always(() => Xml($"<s:Envelope xmlns:s=\"{Soap}\"><s:Header/><s:Body><n:EnumerateResponse xmlns:n=\"x\">")));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("wsman:MalformedResponse", ex.NativeCode);
    }

    [Fact]
    public async Task A_soap_11_envelope_is_refused_as_the_wrong_namespace()
    {
        await using var driver = DriverWith(Always(() => Xml("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>")));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("wsman:MalformedResponse", ex.NativeCode);
        Assert.Contains("SOAP 1.2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Items_in_the_wrong_namespace_are_not_taken_for_an_enumeration_response()
    {
        await using var driver = DriverWith(Always(() => Xml(
            $"<s:Envelope xmlns:s=\"{Soap}\"><s:Body><n:EnumerateResponse xmlns:n=\"urn:not-ws-enumeration\"><n:Items/></n:EnumerateResponse></s:Body></s:Envelope>")));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("wsman:MalformedResponse", ex.NativeCode);
    }

    [Fact]
    public async Task A_document_type_definition_is_refused_before_any_entity_expands()
    {
        const string Bomb = """
            <?xml version="1.0"?>
            <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
            <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
            <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol3;</s:Body></s:Envelope>
            """;
        await using var driver = DriverWith(Always(() => Xml(Bomb)));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("wsman:MalformedResponse", ex.NativeCode);
        Assert.Contains("DTD", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_huge_payload_is_refused_at_the_size_limit_with_or_without_a_content_length()
    {
        var big = new string('x', 1024 * 1024);
        await using var declared = DriverWith(Always(() => Xml($"<s:Envelope xmlns:s=\"{Soap}\"><s:Body>{big}</s:Body></s:Envelope>")));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => declared.ListInstancesAsync(Ct));
        Assert.Equal("w:EncodingLimit", ex.NativeCode);

        // A body that never ends and declares no length: reading stops at the limit.
        var endless = new ScriptedHandler((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(new EndlessStream()) { Headers = { ContentType = new("application/soap+xml") } },
        }));
        await using var streaming = DriverWith(endless);
        ex = await Assert.ThrowsAsync<HypervisorException>(() => streaming.ListInstancesAsync(Ct));
        Assert.Equal("w:EncodingLimit", ex.NativeCode);
    }

    [Fact]
    public async Task An_enumeration_that_never_ends_and_never_yields_is_cut_off()
    {
        var handler = new ScriptedHandler(async (request, ct) =>
        {
            const string Body = "<n:{0} xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><n:EnumerationContext>uuid:same</n:EnumerationContext></n:{0}>";
            var name = (await request.Content!.ReadAsStringAsync(ct)).Contains("<n:Pull", StringComparison.Ordinal) ? "PullResponse" : "EnumerateResponse";
            return Xml($"<s:Envelope xmlns:s=\"{Soap}\"><s:Body>{string.Format(System.Globalization.CultureInfo.InvariantCulture, Body, name)}</s:Body></s:Envelope>");
        });
        await using var driver = DriverWith(handler);
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.Equal("wsman:MalformedResponse", ex.NativeCode);
        Assert.InRange(handler.Requests, 4, 4 * 20);
    }

    [Fact]
    public async Task A_server_that_never_answers_ends_in_a_timeout()
    {
        var handler = new ScriptedHandler(async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return new HttpResponseMessage(HttpStatusCode.OK);
        });
        await using var driver = DriverWith(handler, o => o.HttpTimeout = TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<HypervisorTimeoutException>(() => driver.ListInstancesAsync(Ct));
        Assert.True(ex.IsTransient);
    }

    [Fact]
    public async Task Html_error_pages_and_unavailable_gateways_are_typed()
    {
        await using var html = DriverWith(Always(() => new HttpResponseMessage(HttpStatusCode.InternalServerError)
        {
            Content = new StringContent("<html><body>oops</body></html>", Encoding.UTF8, "text/html"),
        }));
        var ex = await Assert.ThrowsAsync<HypervisorException>(() => html.ListInstancesAsync(Ct));
        Assert.Equal("http:500", ex.NativeCode);

        await using var gateway = DriverWith(Always(() => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)));
        await Assert.ThrowsAsync<HypervisorUnavailableException>(() => gateway.ListInstancesAsync(Ct));
    }

    [Fact]
    public async Task A_closed_port_is_unavailable_and_transient()
    {
        await using var driver = new HyperVDriver(new HyperVDriverOptions
        {
            Url = new Uri("http://127.0.0.1:1/wsman"),
            UserName = "user",
            Password = "secret",
        });
        var ex = await Assert.ThrowsAsync<HypervisorUnavailableException>(() => driver.ListInstancesAsync(Ct));
        Assert.True(ex.IsTransient);
    }

    [Theory]
    [InlineData("w:AccessDenied", null, typeof(HypervisorAuthenticationException), HypervisorErrorKind.AuthenticationFailed)]
    [InlineData("w:TimedOut", null, typeof(HypervisorTimeoutException), HypervisorErrorKind.Timeout)]
    [InlineData("n:InvalidEnumerationContext", null, typeof(HypervisorUnavailableException), HypervisorErrorKind.Unavailable)]
    [InlineData("w:InternalError", "6", typeof(HypervisorException), HypervisorErrorKind.NotFound)]
    [InlineData("w:CannotProcessFilter", null, typeof(HypervisorException), HypervisorErrorKind.InvalidSpec)]
    public async Task Soap_faults_and_wmi_errors_map_through_the_table(string subcode, string? cimStatus, Type expectedType, HypervisorErrorKind expectedKind)
    {
        var ns = subcode[0] == 'n' ? "http://schemas.xmlsoap.org/ws/2004/09/enumeration" : "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
        var detail = cimStatus is null
            ? "<f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" Code=\"5\"><f:Message>denied</f:Message></f:WSManFault>"
            : $"<p:MSFT_WmiError xmlns:p=\"http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/MSFT_WmiError\"><p:CIMStatusCode>{cimStatus}</p:CIMStatusCode><p:Message>Not found</p:Message></p:MSFT_WmiError>";
        var fault = $"<s:Envelope xmlns:s=\"{Soap}\" xmlns:x=\"{ns}\"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>x:{subcode[2..]}</s:Value></s:Subcode></s:Code>"
            + $"<s:Reason><s:Text xml:lang=\"en-US\">reason</s:Text></s:Reason><s:Detail>{detail}</s:Detail></s:Fault></s:Body></s:Envelope>";
        await using var driver = DriverWith(Always(() => Xml(fault, HttpStatusCode.InternalServerError)));
        var ex = await Assert.ThrowsAnyAsync<HypervisorException>(() => driver.ListInstancesAsync(Ct));
        Assert.IsType(expectedType, ex);
        Assert.Equal(expectedKind, ex.Kind);
        Assert.Equal(cimStatus is null ? subcode : "cim:" + cimStatus, ex.NativeCode);
    }

    [Fact]
    public async Task Wrong_credentials_end_in_an_authentication_error_and_the_password_is_not_in_it()
    {
        await using var server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        var options = HyperVFixture.OptionsFor(server);
        options.Password = "not-the-Passw0rd-123";
        await using var driver = new HyperVDriver(options);
        var ex = await Assert.ThrowsAsync<HypervisorAuthenticationException>(() => driver.ListInstancesAsync(Ct));
        Assert.DoesNotContain("not-the-Passw0rd-123", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_that_never_finishes_ends_in_a_timeout_with_the_job_named()
    {
        await using var server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        var options = HyperVFixture.OptionsFor(server);
        options.JobTimeout = TimeSpan.FromMilliseconds(500);
        await using var driver = new HyperVDriver(options);
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "stuck", VCpus = 1, MemoryMiB = 64 };
        await driver.CreateInstanceAsync(spec, Ct);
        server.Host.Behavior.JobDuration = Timeout.InfiniteTimeSpan;
        var ex = await Assert.ThrowsAsync<HypervisorTimeoutException>(() => driver.StartInstanceAsync(spec.Id, Ct));
        Assert.Contains("RequestStateChange job", ex.Message, StringComparison.Ordinal);
        Assert.Equal("job:4", ex.NativeCode);
    }

    [Fact]
    public async Task Enumerations_follow_pulls_to_the_end_of_the_sequence()
    {
        await using var server = await HyperVSimulatorServer.StartAsync(cancellationToken: Ct);
        for (var i = 0; i < 7; i++)
        {
            server.Host.AddVirtualMachine("pull-" + i);
        }

        using var http = new HttpClient();
        var client = new WsManClient(http, new WsManClientSettings
        {
            Endpoint = server.Endpoint,
            Credentials = _ => ValueTask.FromResult(new NetworkCredential(server.Host.Options.UserName, server.Host.Options.Password)),
            MaxElementsPerPull = 2,
        });
        var vms = await client.EnumerateAsync(WmiSession.Virtualization, "SELECT ElementName FROM Msvm_ComputerSystem WHERE ElementName LIKE 'pull-%'", Ct);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => "pull-" + i), vms.Select(v => v["ElementName"]).Order(StringComparer.Ordinal));
        Assert.All(vms, v => Assert.Null(v["Name"]));
    }

    private sealed class EndlessStream : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)'x', offset, count);
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
