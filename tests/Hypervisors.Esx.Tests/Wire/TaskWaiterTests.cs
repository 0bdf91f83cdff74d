using System.Xml.Linq;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Tests.Wire;

/// <summary>Task waits through the PropertyCollector, against canned answers.</summary>
public sealed class TaskWaiterTests
{
    private static readonly ManagedObjectReference Task1 = new("Task", "task-1");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_task_that_ends_in_error_throws_its_fault_after_waiting_on_a_filter()
    {
        var versions = new List<string?>();
        var handler = new ScriptedVimHandler((method, body) =>
        {
            switch (method)
            {
                case "Login":
                    return ScriptedVimHandler.Ok("Login", "<returnval/>");
                case "CreatePropertyCollector":
                    return ScriptedVimHandler.Ok(method, "<returnval type=\"PropertyCollector\">session[1]pc1</returnval>");
                case "CreateFilter":
                    return ScriptedVimHandler.Ok(method, "<returnval type=\"PropertyFilter\">session[1]f1</returnval>");
                case "WaitForUpdatesEx":
                    var version = body.Element(ScriptedVimHandler.Vim + "version")?.Value;
                    versions.Add(version);
                    return ScriptedVimHandler.Ok(method, version is null
                        ? Update("1", "enter", "<changeSet><name>info.state</name><op>assign</op><val xsi:type=\"TaskInfoState\">running</val></changeSet>")
                        : Update("2", "modify",
                            "<changeSet><name>info.state</name><op>assign</op><val xsi:type=\"TaskInfoState\">error</val></changeSet>"
                            + "<changeSet><name>info.error</name><op>assign</op><val xsi:type=\"LocalizedMethodFault\"><fault xsi:type=\"DuplicateName\"><name>web-1</name></fault><localizedMessage>The name 'web-1' already exists.</localizedMessage></val></changeSet>"));
                default:
                    return ScriptedVimHandler.Ok(method);
            }
        });
        await using var client = new VimClient(new VimClientOptions { SdkUrl = new Uri("https://esx.invalid/sdk"), Credentials = VimClientOptions.FixedCredentials("u", "p") }, handler: handler);
        await client.ConnectAsync(Ct);
        await using var waiter = new TaskWaiter(client);

        var fault = await Assert.ThrowsAsync<VimFaultException>(() => waiter.WaitAsync(Task1, Ct));

        Assert.Equal("DuplicateName", fault.FaultType);
        Assert.Equal([null, "1"], versions); // the current state first, then the changes since that version
        var filterSpec = handler.Requests.Single(r => r.Method == "CreateFilter").Body;
        Assert.Equal(["info.state", "info.error", "info.result"], filterSpec.Descendants(ScriptedVimHandler.Vim + "pathSet").Select(p => p.Value));
        Assert.DoesNotContain(handler.Requests, r => r.Method == "RetrievePropertiesEx"); // no polling of the task
    }

    [Fact]
    public async Task A_wait_on_an_object_the_first_answer_leaves_out_reports_it_missing()
    {
        var handler = new ScriptedVimHandler((method, _) => method switch
        {
            "Login" => ScriptedVimHandler.Ok("Login", "<returnval/>"),
            "CreatePropertyCollector" => ScriptedVimHandler.Ok(method, "<returnval type=\"PropertyCollector\">session[1]pc1</returnval>"),
            "CreateFilter" => ScriptedVimHandler.Ok(method, "<returnval type=\"PropertyFilter\">session[1]f1</returnval>"),
            "WaitForUpdatesEx" => ScriptedVimHandler.Ok(method, "<returnval><version>1</version></returnval>"),
            _ => ScriptedVimHandler.Ok(method),
        });
        await using var client = new VimClient(new VimClientOptions { SdkUrl = new Uri("https://esx.invalid/sdk"), Credentials = VimClientOptions.FixedCredentials("u", "p") }, handler: handler);
        await client.ConnectAsync(Ct);
        await using var waiter = new TaskWaiter(client);

        var fault = await Assert.ThrowsAsync<VimFaultException>(() => waiter.WaitForAsync(new("VirtualMachine", "vm-404"), ["runtime.powerState"], _ => false, TimeSpan.FromSeconds(5), Ct));
        Assert.Equal("ManagedObjectNotFound", fault.FaultType);
    }

    private static string Update(string version, string kind, string changes) =>
        $"<returnval><version>{version}</version><filterSet><filter type=\"PropertyFilter\">session[1]f1</filter><objectSet><kind>{kind}</kind><obj type=\"Task\">task-1</obj>{changes}</objectSet></filterSet></returnval>";
}
