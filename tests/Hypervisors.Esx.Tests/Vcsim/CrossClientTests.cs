namespace Hypervisors.Esx.Tests.Vcsim;

/// <summary>Two drivers on one endpoint: a create is idempotent on an id the other driver made (server-side lookup).</summary>
public sealed class CrossClientTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_create_finds_an_instance_another_driver_made_under_the_same_id()
    {
        await using var server = await VcsimServer.StartAsync(vcenter: false, tls: false);
        var options = server.CreateOptions();
        options.VerifyNewIdsOnServer = true; // sequential creates only: vcsim can answer FindByUuid here
        await using var first = new EsxDriver(server.CreateOptions());
        await using var second = new EsxDriver(options);
        await second.ConnectAsync(Ct); // lists before the instance exists, so it does not know the id
        var spec = new InstanceSpec { Id = Guid.NewGuid(), Name = "shared-" + Guid.NewGuid().ToString("N")[..6], VCpus = 1, MemoryMiB = 64 };
        var made = await first.CreateInstanceAsync(spec, Ct);

        var again = await second.CreateInstanceAsync(spec, Ct);
        await Assert.ThrowsAsync<InstanceAlreadyExistsException>(() => second.CreateInstanceAsync(spec with { Name = spec.Name + "-b" }, Ct));

        Assert.Equal(made.NativeId, again.NativeId);
        Assert.Single(await first.ListInstancesAsync(Ct), i => i.Id == spec.Id);
        await second.DeleteInstanceAsync(spec.Id, Ct);
    }
}
