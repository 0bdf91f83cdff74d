using System.Net;
using System.Xml;
using System.Xml.Linq;
using Hypervisors.Esx.Mapping;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Tests.Wire;

/// <summary>The SOAP client and the fault table, against canned answers from an in-process handler.</summary>
public sealed class VimClientTests
{
    private static readonly ManagedObjectReference Vm = new("VirtualMachine", "vm-7");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string, string, Type> Faults => new()
    {
        { "InvalidPowerState", "<requestedState>poweredOn</requestedState><existingState>suspended</existingState>", typeof(InvalidPowerStateException) },
        { "InvalidState", string.Empty, typeof(HypervisorException) },
        { "ManagedObjectNotFound", "<obj type=\"VirtualMachine\">vm-7</obj>", typeof(InstanceNotFoundException) },
        { "InvalidLogin", string.Empty, typeof(HypervisorAuthenticationException) },
        { "NoPermission", "<privilegeId>VirtualMachine.Interact.PowerOn</privilegeId>", typeof(HypervisorAuthenticationException) },
        { "DuplicateName", "<name>web-1</name>", typeof(InstanceAlreadyExistsException) },
        { "NotSupported", string.Empty, typeof(OperationNotSupportedException) },
        { "MethodNotFound", "<method>RebootGuest</method>", typeof(OperationNotSupportedException) },
        { "InvalidArgument", "<invalidProperty>spec.numCPUs</invalidProperty>", typeof(InvalidSpecException) },
        { "InsufficientMemoryResourcesFault", string.Empty, typeof(InsufficientResourcesException) },
        { "HostCommunication", string.Empty, typeof(HypervisorUnavailableException) },
        { "Timedout", string.Empty, typeof(HypervisorTimeoutException) },
        { "SomethingNobodyMapped", string.Empty, typeof(HypervisorException) },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Each_vsphere_fault_becomes_the_contracts_typed_error(string faultType, string detail, Type expected)
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login" ? LoginOk() : ScriptedVimHandler.Fault(faultType, detail));
        await using var client = await ConnectAsync(handler);
        var instance = Guid.NewGuid();
        var context = new OperationContext(InstanceOperation.Start, instance);

        var fault = await Assert.ThrowsAsync<VimFaultException>(() => client.InvokeAsync("PowerOnVM_Task", Vm, null, r => r, Ct));
        var mapped = VimErrorMap.ToHypervisorException(fault, context);

        Assert.IsType(expected, mapped);
        var typed = (HypervisorException)mapped;
        Assert.Equal(faultType, typed.NativeCode);
        Assert.Same(fault, typed.InnerException ?? fault);
        switch (typed)
        {
            case InvalidPowerStateException power:
                // The fault's existingState is the state reported.
                Assert.Equal(PowerState.Suspended, power.CurrentState);
                Assert.Equal(InstanceOperation.Start, power.Operation);
                break;
            case InstanceNotFoundException notFound:
                Assert.Equal(instance, notFound.MissingInstanceId);
                break;
            case InvalidSpecException spec:
                Assert.Equal("spec.numCPUs", spec.Field);
                break;
        }

        if (faultType == "SomethingNobodyMapped")
        {
            Assert.Equal(HypervisorErrorKind.Unknown, typed.Kind);
        }

        if (faultType == "InvalidState")
        {
            // No existingState: the kind says what happened, with the instance for the caller.
            Assert.Equal(HypervisorErrorKind.InvalidPowerState, typed.Kind);
            Assert.Equal(instance, typed.InstanceId);
        }
    }

    [Fact]
    public async Task A_fault_naming_a_device_becomes_device_not_found()
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login" ? LoginOk() : ScriptedVimHandler.Fault("ManagedObjectNotFound"));
        await using var client = await ConnectAsync(handler);
        var fault = await Assert.ThrowsAsync<VimFaultException>(() => client.InvokeAsync("RemoveSnapshot_Task", new("VirtualMachineSnapshot", "snapshot-3"), null, r => r, Ct));
        var mapped = Assert.IsType<DeviceNotFoundException>(VimErrorMap.ToHypervisorException(fault, new OperationContext(InstanceOperation.DeleteSnapshot, Guid.NewGuid(), "snapshot", "snapshot-3")));
        Assert.Equal("snapshot-3", mapped.DeviceId);
    }

    [Fact]
    public async Task A_lost_session_logs_in_again_once_and_repeats_the_call_with_the_new_cookie()
    {
        var failures = 1;
        var handler = new ScriptedVimHandler((method, _) => method switch
        {
            "Login" => LoginOk(),
            _ when failures-- > 0 => ScriptedVimHandler.Fault("NotAuthenticated"),
            _ => ScriptedVimHandler.Ok("PowerOnVM_Task", "<returnval type=\"Task\">task-1</returnval>"),
        });
        await using var client = await ConnectAsync(handler);

        var task = await client.InvokeAsync("PowerOnVM_Task", Vm, null, r => r.Child("returnval")!.AsRef(), Ct);

        Assert.Equal(new ManagedObjectReference("Task", "task-1"), task);
        Assert.Equal(2, client.LoginCount);
        Assert.Equal(["RetrieveServiceContent", "Login", "PowerOnVM_Task", "Login", "PowerOnVM_Task"], handler.Requests.Select(r => r.Method));
        Assert.Null(handler.Requests[3].Cookie); // Login must not carry the dead session
        Assert.Equal(handler.CurrentCookie, handler.Requests[4].Cookie);
    }

    [Fact]
    public async Task A_session_that_stays_lost_is_an_authentication_error_after_one_retry()
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login" ? LoginOk() : ScriptedVimHandler.Fault("NotAuthenticated"));
        await using var client = await ConnectAsync(handler);
        var fault = await Assert.ThrowsAsync<VimFaultException>(() => client.InvokeAsync("PowerOnVM_Task", Vm, null, r => r, Ct));
        Assert.IsType<HypervisorAuthenticationException>(VimErrorMap.ToHypervisorException(fault, new OperationContext(InstanceOperation.Start, Guid.NewGuid())));
        Assert.Equal(2, handler.Requests.Count(r => r.Method == "PowerOnVM_Task"));
    }

    [Fact]
    public async Task A_call_on_a_session_object_after_a_lost_session_reports_the_object_gone_instead_of_repeating()
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login" ? LoginOk() : ScriptedVimHandler.Fault("NotAuthenticated"));
        await using var client = await ConnectAsync(handler);
        var fault = await Assert.ThrowsAsync<VimFaultException>(() => client.WaitForUpdatesAsync(new("PropertyCollector", "session[1]pc"), null, TimeSpan.FromSeconds(1), Ct));
        Assert.Equal("ManagedObjectNotFound", fault.FaultType);
        Assert.Equal(1, handler.Requests.Count(r => r.Method == "WaitForUpdatesEx"));
        Assert.Equal(2, client.LoginCount);
    }

    [Fact]
    public async Task A_paged_retrieval_follows_continue_tokens_until_the_last_page()
    {
        static string Page(int first, string? token) =>
            "<returnval>" + (token is null ? string.Empty : "<token>" + token + "</token>")
            + string.Concat(Enumerable.Range(first, 2).Select(i =>
                $"<objects><obj type=\"VirtualMachine\">vm-{i}</obj><propSet><name>name</name><val xsi:type=\"xsd:string\">web-{i}</val></propSet></objects>"))
            + "</returnval>";
        var handler = new ScriptedVimHandler((method, body) => method switch
        {
            "Login" => LoginOk(),
            "RetrievePropertiesEx" => ScriptedVimHandler.Ok(method, Page(1, "t1")),
            "ContinueRetrievePropertiesEx" when body.Element(ScriptedVimHandler.Vim + "token")!.Value == "t1" => ScriptedVimHandler.Ok(method, Page(3, "t2")),
            "ContinueRetrievePropertiesEx" => ScriptedVimHandler.Ok(method, Page(5, null)),
            _ => ScriptedVimHandler.Fault("NotImplemented"),
        });
        await using var client = await ConnectAsync(handler);

        var objects = await client.RetrievePropertiesAsync(w => PropertySpecs.ForObject(w, Vm, ["name"]), Ct);

        Assert.Equal(Enumerable.Range(1, 6).Select(i => "web-" + i), objects.Select(o => o.Text("name")));
        Assert.Equal(2, handler.Requests.Count(r => r.Method == "ContinueRetrievePropertiesEx"));
        var options = handler.Requests.Single(r => r.Method == "RetrievePropertiesEx").Body.Element(ScriptedVimHandler.Vim + "options")!;
        Assert.Equal("1000", options.Element(ScriptedVimHandler.Vim + "maxObjects")!.Value);
    }

    [Fact]
    public async Task User_data_is_escaped_in_the_request_xml()
    {
        const string password = "p</password><userName>root</userName>&amp;\"'";
        var handler = new ScriptedVimHandler((method, _) => method == "Login" ? LoginOk() : ScriptedVimHandler.Ok("FindChild"));
        await using var client = new VimClient(Options(VimClientOptions.FixedCredentials("ops", password)), handler: handler);
        await client.ConnectAsync(Ct);
        await client.InvokeAsync("FindChild", new("SearchIndex", "si"), w => w.Ref("entity", new("Folder", "f<1>")).Element("name", "web\"1'<&>"), r => r, Ct);

        var login = handler.Requests.Single(r => r.Method == "Login").Body;
        Assert.Equal(password, login.Element(ScriptedVimHandler.Vim + "password")!.Value);
        Assert.Single(login.Elements(ScriptedVimHandler.Vim + "userName"));
        var find = handler.Requests.Single(r => r.Method == "FindChild").Body;
        Assert.Equal("web\"1'<&>", find.Element(ScriptedVimHandler.Vim + "name")!.Value);
        Assert.Equal("f<1>", find.Element(ScriptedVimHandler.Vim + "entity")!.Value);
    }

    [Fact]
    public async Task A_response_with_a_dtd_is_refused()
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login"
            ? LoginOk()
            : ScriptedVimHandler.Xml(HttpStatusCode.OK, "<R xmlns=\"urn:vim25\">&x;</R>", "<!DOCTYPE soapenv:Envelope [<!ENTITY x \"expanded\">]>"));
        await using var client = await ConnectAsync(handler);
        var ex = await Assert.ThrowsAsync<XmlException>(() => client.InvokeAsync("PowerOnVM_Task", Vm, null, r => r, Ct));
        Assert.IsType<HypervisorException>(VimErrorMap.ToHypervisorException(ex, new OperationContext(InstanceOperation.Start, null)));
    }

    [Fact]
    public async Task A_response_over_the_size_limit_is_refused()
    {
        var handler = new ScriptedVimHandler((method, _) => method == "Login"
            ? LoginOk()
            : ScriptedVimHandler.Ok("RetrievePropertiesEx", "<returnval>" + new string('x', 70_000) + "</returnval>"));
        await using var client = new VimClient(Options(VimClientOptions.FixedCredentials("u", "p")) with { MaxResponseBytes = 64 * 1024 }, handler: handler);
        await client.ConnectAsync(Ct);
        await Assert.ThrowsAsync<InvalidDataException>(() => client.InvokeAsync("RetrievePropertiesEx", new("PropertyCollector", "pc"), null, r => r, Ct));
    }

    [Fact]
    public async Task A_task_error_is_read_from_its_localized_fault()
    {
        var error = XElement.Parse(
            "<val xmlns=\"urn:vim25\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"LocalizedMethodFault\">"
            + "<fault xsi:type=\"InvalidPowerState\"><requestedState>poweredOff</requestedState><existingState>poweredOff</existingState></fault>"
            + "<localizedMessage>The attempted operation cannot be performed in the current state (Powered off).</localizedMessage></val>");
        var fault = VimFaultException.FromLocalizedFault(error);
        Assert.Equal("InvalidPowerState", fault.FaultType);
        var mapped = Assert.IsType<InvalidPowerStateException>(VimErrorMap.ToHypervisorException(fault, new OperationContext(InstanceOperation.PowerOff, Guid.NewGuid())));
        Assert.Equal(PowerState.Shutdown, mapped.CurrentState);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_unavailable_and_transient()
    {
        await using var client = new VimClient(Options(VimClientOptions.FixedCredentials("u", "p")) with { SdkUrl = new Uri("http://127.0.0.1:1/sdk") });
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => client.ConnectAsync(Ct));
        var mapped = Assert.IsType<HypervisorUnavailableException>(VimErrorMap.ToHypervisorException(ex, new OperationContext(InstanceOperation.ListInstances, null)));
        Assert.True(mapped.IsTransient);
    }

    private static HttpResponseMessage LoginOk() => ScriptedVimHandler.Ok("Login", "<returnval><key>s</key><userName>u</userName></returnval>");

    private static VimClientOptions Options(Func<CancellationToken, ValueTask<System.Net.NetworkCredential>> credentials) => new()
    {
        SdkUrl = new Uri("https://esx.invalid/sdk"),
        Credentials = credentials,
    };

    private static async Task<VimClient> ConnectAsync(ScriptedVimHandler handler)
    {
        var client = new VimClient(Options(VimClientOptions.FixedCredentials("u", "p")), handler: handler);
        await client.ConnectAsync(Ct);
        return client;
    }
}
