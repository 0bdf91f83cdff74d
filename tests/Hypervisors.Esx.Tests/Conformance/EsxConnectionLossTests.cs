using Hypervisors.Conformance;
using Hypervisors.Esx.Wire;

namespace Hypervisors.Esx.Tests.Conformance;

/// <summary>
/// vcsim with the driver's session terminated by another client (<c>SessionManager.TerminateSession</c>), as an
/// administrator or a session timeout would: the driver's calls and its event watch lose their session at once.
/// The long poll is short here (5 s) so the watch notices within the kit's event timeout.
/// </summary>
public sealed class EsxConnectionLossFixture() : EsxFixture(vcenter: false, tls: false), IConnectionLossFixture
{
    public async Task InterruptConnectionAsync(Func<IHypervisorDriver?, Task>? whileDown, CancellationToken cancellationToken)
    {
        var options = Server.CreateOptions();
        await using var admin = new VimClient(options.ToClientOptions());
        await admin.ConnectAsync(cancellationToken);
        var manager = admin.Content.SessionManager;
        var sessions = await admin.RetrieveObjectAsync(manager, ["sessionList", "currentSession"], cancellationToken);
        var own = sessions.Properties["currentSession"]?.ChildText("key");
        var others = sessions.Properties["sessionList"]?.Elements().Select(s => s.ChildText("key")).Where(k => k is not null && k != own).ToList() ?? [];
        Assert.NotEmpty(others);
        await admin.InvokeAsync("TerminateSession", manager, w =>
        {
            foreach (var key in others)
            {
                w.Element("sessionId", key!);
            }
        }, _ => true, cancellationToken);

        if (whileDown is not null)
        {
            options.EnableEvents = false;
            await using var other = new EsxDriver(options);
            await whileDown(other);
        }
    }

    protected override async Task<IHypervisorDriver> CreateDriverAsync()
    {
        var options = Server.CreateOptions();
        options.EventPollWait = TimeSpan.FromSeconds(5);
        var driver = new EsxDriver(options);
        await driver.ConnectAsync();
        return driver;
    }
}

public sealed class EsxConnectionLossTests(EsxConnectionLossFixture f) : ConnectionLossTests<EsxConnectionLossFixture>(f);
