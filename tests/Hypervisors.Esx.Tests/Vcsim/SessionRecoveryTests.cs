using Hypervisors.Esx.Tests.Vcsim;
using Hypervisors.Esx.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary>vcsim restarted under a running driver: the session is gone, the driver logs in again and carries on.</summary>
public sealed class SessionRecoveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task A_restarted_vcsim_is_logged_into_again_and_the_driver_carries_on(bool vcenter, bool tls)
    {
        var server = await VcsimServer.StartAsync(vcenter, tls);
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        try
        {
            await using var driver = new EsxDriver(server.CreateOptions(), loggerFactory.CreateLogger<EsxDriver>());
            var before = await driver.CreateInstanceAsync(Spec("before-restart"), Ct);
            await driver.StartInstanceAsync(before.Id, Ct);
            var client = (VimClient)driver.GetService(typeof(VimClient))!;
            Assert.Equal(1, client.LoginCount);

            server = await server.RestartAsync(); // same port, empty inventory, no sessions

            // The old session is unknown to the new server: the first call fails NotAuthenticated, logs in, repeats.
            Assert.DoesNotContain(await driver.ListInstancesAsync(Ct), i => i.Id == before.Id);
            Assert.Equal(2, client.LoginCount);
            Assert.Contains(logs.GetSnapshot(), r => r.Message.Contains("logging in again", StringComparison.Ordinal));

            var after = await driver.CreateInstanceAsync(Spec("after-restart"), Ct);
            await driver.StartInstanceAsync(after.Id, Ct);
            await driver.StopInstanceAsync(after.Id, TimeSpan.FromSeconds(2), Ct);
            Assert.Equal(PowerState.Shutdown, (await driver.GetInstanceAsync(after.Id, Ct)).PowerState);
            await Assert.ThrowsAsync<InstanceNotFoundException>(() => driver.GetInstanceAsync(before.Id, Ct));
            await driver.DeleteInstanceAsync(after.Id, Ct);
            Assert.Equal(2, client.LoginCount);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Events_keep_coming_after_vcsim_restarts()
    {
        var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        try
        {
            await using var driver = new EsxDriver(server.CreateOptions());
            await driver.ConnectAsync(Ct);
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            watch.CancelAfter(TimeSpan.FromSeconds(60));
            await using var events = driver.WatchEventsAsync(watch.Token).GetAsyncEnumerator(watch.Token);
            server = await server.RestartAsync();
            var spec = Spec("event-after-restart");
            var created = Task.Run(async () =>
            {
                await driver.CreateInstanceAsync(spec, Ct);
                await driver.StartInstanceAsync(spec.Id, Ct);
            }, Ct);
            var seen = new List<InstanceEvent>();
            while (!seen.Any(e => e.InstanceId == spec.Id && e.PowerState == PowerState.Running) && await events.MoveNextAsync())
            {
                seen.Add(events.Current);
            }

            await created;

            // Started, or Created already running when the watch subscribed again after the create and start.
            Assert.Contains(seen, e => e.InstanceId == spec.Id && e.PowerState == PowerState.Running && e.Kind is InstanceEventKind.Started or InstanceEventKind.Created);
            await driver.DeleteInstanceAsync(spec.Id, Ct);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static InstanceSpec Spec(string name) => new()
    {
        Id = Guid.NewGuid(),
        Name = name + "-" + Guid.NewGuid().ToString("N")[..6],
        VCpus = 1,
        MemoryMiB = 64,
    };
}
