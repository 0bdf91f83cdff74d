using System.Text;
using System.Text.Json;
using Hypervisors.Xen.Wire;

namespace Hypervisors.Xen.Tests.Wire;

public sealed class JsonRpcCodecTests
{
    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void A_call_round_trips_with_every_value_type()
    {
        var time = new DateTime(2024, 1, 1, 12, 0, 0, DateTimeKind.Utc);
        var encoded = JsonRpcCodec.EncodeCall("VM.start", ["OpaqueRef:s", 5, 10737418240L, true, 1.5, time, null,
            new Dictionary<string, object?> { ["k"] = "v" }, new[] { "a" }], 7);
        using (var document = JsonDocument.Parse(encoded))
        {
            Assert.Equal("2.0", document.RootElement.GetProperty("jsonrpc").GetString());
            Assert.Equal(7, document.RootElement.GetProperty("id").GetInt64());
        }

        var call = JsonRpcCodec.DecodeCall(encoded);
        Assert.Equal("VM.start", call.MethodName);
        Assert.True(call.IsVersion2);
        Assert.Equal("7", call.Id);
        Assert.Equal(new object?[] { "OpaqueRef:s", 5L, 10737418240L, true, 1.5, "20240101T12:00:00Z", null }, call.Parameters[..7]);
        Assert.Equal("v", Assert.IsType<Dictionary<string, object?>>(call.Parameters[7])["k"]);
        Assert.Equal(new object?[] { "a" }, call.Parameters[8]);
    }

    [Fact]
    public void A_version_2_result_decodes_to_its_value() =>
        Assert.Equal("OpaqueRef:x", JsonRpcCodec.DecodeResponse(Utf8("{\"jsonrpc\":\"2.0\",\"result\":\"OpaqueRef:x\",\"id\":1}")));

    [Fact]
    public void A_version_2_error_becomes_a_failure_with_code_and_data()
    {
        var failure = Assert.Throws<XenApiFailureException>(() => JsonRpcCodec.DecodeResponse(Utf8(
            "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"VM_BAD_POWER_STATE\",\"data\":[\"OpaqueRef:v\",\"halted\",\"running\"]},\"id\":1}")));
        Assert.Equal("VM_BAD_POWER_STATE", failure.Code);
        Assert.Equal(["OpaqueRef:v", "halted", "running"], failure.Parameters);
    }

    [Fact]
    public void A_version_1_error_array_becomes_a_failure()
    {
        var failure = Assert.Throws<XenApiFailureException>(() => JsonRpcCodec.DecodeResponse(Utf8("{\"result\":null,\"error\":[\"SESSION_INVALID\",\"OpaqueRef:s\"],\"id\":1}")));
        Assert.Equal("SESSION_INVALID", failure.Code);
        Assert.Equal(["OpaqueRef:s"], failure.Parameters);
    }

    [Fact]
    public void Server_encoded_errors_decode_back_to_the_same_failure()
    {
        foreach (var v2 in new[] { true, false })
        {
            var failure = Assert.Throws<XenApiFailureException>(() => JsonRpcCodec.DecodeResponse(JsonRpcCodec.EncodeError("HANDLE_INVALID", ["VM", "OpaqueRef:q"], "3", v2)));
            Assert.Equal("HANDLE_INVALID", failure.Code);
            Assert.Equal(["VM", "OpaqueRef:q"], failure.Parameters);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"jsonrpc\":\"2.0\",\"result\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"jsonrpc\":\"2.0\",\"id\":1}")]
    [InlineData("{\"error\":{\"code\":1},\"id\":1}")]
    [InlineData("{\"error\":42,\"id\":1}")]
    public void Malformed_responses_are_protocol_errors(string body) =>
        Assert.Throws<XenApiProtocolException>(() => JsonRpcCodec.DecodeResponse(Utf8(body)));

    [Fact]
    public void Deep_nesting_and_huge_strings_are_refused()
    {
        var deep = "{\"result\":" + new string('[', 5000) + new string(']', 5000) + "}";
        Assert.Throws<XenApiProtocolException>(() => JsonRpcCodec.DecodeResponse(Utf8(deep)));
        var limits = new XmlRpcLimits { MaxStringLength = 10, MaxDocumentCharacters = 1000 };
        Assert.Throws<XenApiProtocolException>(() => JsonRpcCodec.DecodeResponse(Utf8("{\"result\":\"" + new string('x', 11) + "\"}"), limits));
        Assert.Throws<XenApiProtocolException>(() => JsonRpcCodec.DecodeResponse(Utf8("{\"result\":\"" + new string('x', 2000) + "\"}"), limits));
    }

    [Fact]
    public void A_request_id_that_is_not_a_json_scalar_is_echoed_as_null()
    {
        using var document = JsonDocument.Parse(JsonRpcCodec.EncodeResult("ok", "{\"evil\":1}", version2: true));
        Assert.Equal(JsonValueKind.Null, document.RootElement.GetProperty("id").ValueKind);
    }
}
