using System.Text;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Tests.Wire;

public sealed class XmlRpcCodecTests
{
    private static readonly DateTime Noon = new(2024, 1, 1, 12, 0, 0, DateTimeKind.Utc);

    private static object? DecodeValue(string valueXml, XmlRpcLimits? limits = null) =>
        XmlRpcReader.ReadResponse(Encoding.UTF8.GetBytes($"<?xml version=\"1.0\"?><methodResponse><params><param>{valueXml}</param></params></methodResponse>"), limits).Value;

    private static XenApiProtocolException Malformed(string document, XmlRpcLimits? limits = null) =>
        Assert.Throws<XenApiProtocolException>(() => XmlRpcReader.ReadResponse(Encoding.UTF8.GetBytes(document), limits));

    [Fact]
    public void Every_value_type_round_trips_through_a_call()
    {
        var bytes = new byte[] { 0, 1, 2, 250, 255 };
        var parameters = new object?[]
        {
            "OpaqueRef:abc", string.Empty, " \t padded \r\n", "<&>\"'", 42, true, false, 3.25, -0.5, Noon, bytes, null,
            new Dictionary<string, object?> { ["a"] = "1", ["nested"] = new Dictionary<string, object?> { ["deep"] = new object?[] { 1, "two", null } } },
            new object?[] { }, new Dictionary<string, object?>(),
        };

        var call = XmlRpcReader.ReadCall(XmlRpcWriter.EncodeCall("VM.do_thing", parameters));

        Assert.Equal("VM.do_thing", call.MethodName);
        Assert.Equal(parameters.Length, call.Parameters.Length);
        Assert.Equal("OpaqueRef:abc", call.Parameters[0]);
        Assert.Equal(string.Empty, call.Parameters[1]);
        Assert.Equal(" \t padded \r\n", call.Parameters[2]);
        Assert.Equal("<&>\"'", call.Parameters[3]);
        Assert.Equal(42L, call.Parameters[4]);
        Assert.Equal(true, call.Parameters[5]);
        Assert.Equal(false, call.Parameters[6]);
        Assert.Equal(3.25, call.Parameters[7]);
        Assert.Equal(-0.5, call.Parameters[8]);
        Assert.Equal(Noon, call.Parameters[9]);
        Assert.Equal(bytes, call.Parameters[10]);
        Assert.Null(call.Parameters[11]);
        var map = Assert.IsType<Dictionary<string, object?>>(call.Parameters[12]);
        Assert.Equal("1", map["a"]);
        var deep = Assert.IsType<object?[]>(Assert.IsType<Dictionary<string, object?>>(map["nested"])["deep"]);
        Assert.Equal(new object?[] { 1L, "two", null }, deep);
        Assert.Empty(Assert.IsType<object?[]>(call.Parameters[13]));
        Assert.Empty(Assert.IsType<Dictionary<string, object?>>(call.Parameters[14]));
    }

    [Fact]
    public void A_64_bit_integer_is_written_as_a_decimal_string_as_XenAPI_expects()
    {
        var text = Encoding.UTF8.GetString(XmlRpcWriter.EncodeCall("VDI.resize", ["OpaqueRef:x", 10737418240L]));
        Assert.Contains("<value>10737418240</value>", text, StringComparison.Ordinal);
        Assert.Equal("10737418240", XmlRpcReader.ReadCall(Encoding.UTF8.GetBytes(text)).Parameters[1]);
    }

    [Theory]
    [InlineData("<value>bare text</value>", "bare text")]
    [InlineData("<value><string>tagged</string></value>", "tagged")]
    [InlineData("<value></value>", "")]
    [InlineData("<value/>", "")]
    [InlineData("<value><string/></value>", "")]
    [InlineData("<value>  </value>", "  ")]
    [InlineData("<value><![CDATA[a<b]]></value>", "a<b")]
    public void Strings_are_read_with_and_without_the_string_tag(string xml, string expected) =>
        Assert.Equal(expected, DecodeValue(xml));

    [Theory]
    [InlineData("<value><int>-7</int></value>", -7L)]
    [InlineData("<value><i4>2147483647</i4></value>", 2147483647L)]
    [InlineData("<value><i8>9223372036854775807</i8></value>", long.MaxValue)]
    [InlineData("<value><i8> 12 </i8></value>", 12L)]
    public void Integers_of_every_width_decode_to_long(string xml, long expected) => Assert.Equal(expected, DecodeValue(xml));

    [Theory]
    [InlineData("<value><boolean>1</boolean></value>", true)]
    [InlineData("<value><boolean>0</boolean></value>", false)]
    public void Booleans_decode(string xml, bool expected) => Assert.Equal(expected, DecodeValue(xml));

    [Theory]
    [InlineData("20240101T12:00:00Z")]
    [InlineData("20240101T12:00:00")]
    [InlineData("2024-01-01T12:00:00Z")]
    [InlineData("2024-01-01T12:00:00")]
    [InlineData("20240101T120000Z")]
    [InlineData("2024-01-01T13:00:00+01:00")]
    public void XenAPI_dateTime_forms_decode_to_the_same_UTC_instant(string text)
    {
        var value = Assert.IsType<DateTime>(DecodeValue($"<value><dateTime.iso8601>{text}</dateTime.iso8601></value>"));
        Assert.Equal(Noon, value);
        Assert.Equal(DateTimeKind.Utc, value.Kind);
    }

    [Fact]
    public void Times_are_written_in_XenAPI_basic_form() =>
        Assert.Contains("<dateTime.iso8601>20240101T12:00:00Z</dateTime.iso8601>",
            Encoding.UTF8.GetString(XmlRpcWriter.EncodeCall("m", [Noon])), StringComparison.Ordinal);

    [Fact]
    public void Base64_with_line_breaks_decodes() =>
        Assert.Equal(Encoding.ASCII.GetBytes("hello world"), DecodeValue("<value><base64>aGVsbG8g\nd29ybGQ=</base64></value>"));

    [Fact]
    public void A_response_is_written_exactly_as_xapi_writes_it()
    {
        using var output = new MemoryStream();
        XmlRpcWriter.WriteResponse(output, new Dictionary<string, object?>
        {
            ["Status"] = "Failure",
            ["ErrorDescription"] = new[] { "VM_BAD_POWER_STATE", "OpaqueRef:1", "halted", "running" },
        });
        Assert.Equal(
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Failure</value></member>"
            + "<member><name>ErrorDescription</name><value><array><data><value>VM_BAD_POWER_STATE</value><value>OpaqueRef:1</value>"
            + "<value>halted</value><value>running</value></data></array></value></member></struct></value></param></params></methodResponse>",
            Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public void The_success_envelope_unwraps_to_its_value()
    {
        var value = XenApiRpcClient.UnwrapEnvelope(DecodeValue(
            "<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:s</value></member></struct></value>"));
        Assert.Equal("OpaqueRef:s", value);
    }

    [Fact]
    public void The_failure_envelope_becomes_a_failure_with_code_and_parameters()
    {
        var failure = Assert.Throws<XenApiFailureException>(() => XenApiRpcClient.UnwrapEnvelope(DecodeValue(
            "<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>"
            + "<value><array><data><value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value></data></array></value></member></struct></value>")));
        Assert.Equal("HANDLE_INVALID", failure.Code);
        Assert.Equal(["VM", "OpaqueRef:x"], failure.Parameters);
    }

    [Theory]
    [InlineData("<value>not an envelope</value>")]
    [InlineData("<value><struct><member><name>Status</name><value>Maybe</value></member></struct></value>")]
    [InlineData("<value><struct><member><name>Status</name><value>Success</value></member></struct></value>")]
    [InlineData("<value><struct><member><name>Status</name><value>Failure</value></member></struct></value>")]
    public void Anything_but_a_well_formed_envelope_is_a_protocol_error(string xml) =>
        Assert.Throws<XenApiProtocolException>(() => XenApiRpcClient.UnwrapEnvelope(DecodeValue(xml)));

    [Fact]
    public void A_fault_is_read_as_a_fault()
    {
        var response = XmlRpcReader.ReadResponse(Encoding.UTF8.GetBytes(
            "<?xml version=\"1.0\"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member>"
            + "<member><name>faultString</name><value><string>Too many parameters.</string></value></member></struct></value></fault></methodResponse>"));
        Assert.True(response.IsFault);
        Assert.Equal(4L, ((Dictionary<string, object?>)response.Value!)["faultCode"]);
    }

    [Fact]
    public void Whitespace_between_elements_is_ignored_but_kept_inside_strings()
    {
        var value = DecodeValue("<value>\n  <struct>\n    <member>\n      <name>k</name>\n      <value> v </value>\n    </member>\n  </struct>\n</value>");
        Assert.Equal(" v ", Assert.IsType<Dictionary<string, object?>>(value)["k"]);
    }

    [Fact]
    public void Every_truncation_of_a_response_is_a_protocol_error()
    {
        var full = Encoding.UTF8.GetString(XmlRpcWriter.EncodeCall("x", [new Dictionary<string, object?> { ["a"] = new object?[] { 1, "b", true, 2.5 } }]))
            .Replace("methodCall", "methodResponse", StringComparison.Ordinal)
            .Replace("<methodName>x</methodName>", string.Empty, StringComparison.Ordinal);
        Assert.NotNull(XmlRpcReader.ReadResponse(Encoding.UTF8.GetBytes(full)).Value);
        for (var length = 0; length < full.Length; length++)
        {
            Malformed(full[..length]);
        }
    }

    [Theory]
    [InlineData("<value><int>abc</int></value>")]
    [InlineData("<value><int>99999999999999999999</int></value>")]
    [InlineData("<value><boolean>2</boolean></value>")]
    [InlineData("<value><double>one</double></value>")]
    [InlineData("<value><dateTime.iso8601>yesterday</dateTime.iso8601></value>")]
    [InlineData("<value><base64>!!!</base64></value>")]
    [InlineData("<value><nil>x</nil></value>")]
    [InlineData("<value><float>1</float></value>")]
    [InlineData("<value>text<string>and a tag</string></value>")]
    [InlineData("<value><struct><member><value>1</value></member></struct></value>")]
    [InlineData("<value><struct><name>k</name></struct></value>")]
    [InlineData("<value><array><value>1</value></array></value>")]
    [InlineData("<value><string><b>bold</b></string></value>")]
    [InlineData("<notvalue/>")]
    public void Wrong_types_and_shapes_are_protocol_errors(string valueXml) =>
        Malformed($"<?xml version=\"1.0\"?><methodResponse><params><param>{valueXml}</param></params></methodResponse>");

    [Theory]
    [InlineData("")]
    [InlineData("not xml at all")]
    [InlineData("<methodCall><methodName>x</methodName></methodCall>")]
    [InlineData("<methodResponse></methodResponse>")]
    [InlineData("<methodResponse><params><param><value>1</value></param></params></methodResponse><extra/>")]
    [InlineData("<methodResponse><params><param><value>1</value></param></params></methodResponse>trailing")]
    public void Documents_that_are_not_one_method_response_are_protocol_errors(string document) => Malformed(document);

    [Fact]
    public void Deep_nesting_is_refused_at_the_configured_depth()
    {
        const int depth = 10_000;
        var document = new StringBuilder("<methodResponse><params><param>");
        for (var i = 0; i < depth; i++)
        {
            document.Append("<value><array><data>");
        }

        for (var i = 0; i < depth; i++)
        {
            document.Append("</data></array></value>");
        }

        document.Append("</param></params></methodResponse>");
        Assert.Contains("nested", Malformed(document.ToString()).Message, StringComparison.Ordinal);

        var limits = new XmlRpcLimits { MaxDepth = 3 };
        Assert.NotNull(DecodeValue("<value><array><data><value><array><data><value><array><data/></array></value></data></array></value></data></array></value>", limits));
        Malformed("<methodResponse><params><param><value><array><data><value><array><data><value><array><data><value><array><data/></array></value></data></array></value></data></array></value></data></array></value></param></params></methodResponse>", limits);
    }

    [Fact]
    public void A_DTD_is_refused_so_entity_expansion_cannot_happen()
    {
        const string laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
            + "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
            + "<methodResponse><params><param><value>&lol3;</value></param></params></methodResponse>";
        Assert.Contains("DTD", Malformed(laughs).Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Huge_strings_and_documents_are_refused_by_the_limits()
    {
        var limits = new XmlRpcLimits { MaxStringLength = 1000, MaxDocumentCharacters = 100_000 };
        Assert.Equal(new string('x', 1000), DecodeValue($"<value>{new string('x', 1000)}</value>", limits));
        Assert.Contains("longer", Malformed($"<methodResponse><params><param><value>{new string('x', 1001)}</value></param></params></methodResponse>", limits).Message, StringComparison.Ordinal);
        Assert.Contains("longer", Malformed($"<methodResponse><params><param><value><string>{new string('y', 5000)}</string></value></param></params></methodResponse>", limits).Message, StringComparison.Ordinal);
        Malformed($"<methodResponse><params><param><value><base64>{new string('A', 200_000)}</base64></value></param></params></methodResponse>", limits);
    }

    [Fact]
    public void A_task_result_value_decodes()
    {
        Assert.Equal("OpaqueRef:vm", XmlRpcReader.ReadValueText(XmlRpcWriter.EncodeValue("OpaqueRef:vm")));
        Assert.Equal(new object?[] { "a", "b" }, XmlRpcReader.ReadValueText(XmlRpcWriter.EncodeValue(new[] { "a", "b" })));
    }

    [Fact]
    public void Values_that_cannot_be_XML_are_refused_when_writing() =>
        Assert.Throws<XenApiProtocolException>(() => XmlRpcWriter.EncodeCall("m", ["bad \u0001 char"]));
}
