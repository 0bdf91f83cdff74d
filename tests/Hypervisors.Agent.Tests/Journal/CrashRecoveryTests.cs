using System.Net;
using Hypervisors.Agent.Client;
using Hypervisors.Agent.Configuration;
using Hypervisors.Agent.Journal;
using Hypervisors.Agent.Tests.Infrastructure;

namespace Hypervisors.Agent.Tests.Journal;

/// <summary>
/// Kills the agent (SIGKILL) while 200 creates (or, against libvirtd, power and device operations) are in flight, restarts it on the same journal, retries every create
/// with the same ids, and checks that exactly those 200 instances exist, once each, with every operation final.
/// </summary>
public sealed class CrashRecoveryTests
{
    private const int Count = 200;

    [Fact]
    public Task Killing_the_agent_during_200_creates_on_the_fake_loses_nothing_and_duplicates_nothing() => RunAsync(CrashTarget.Fake);

    [Fact]
    public Task Killing_the_agent_during_200_creates_on_libvirtd_loses_nothing_and_duplicates_nothing()
    {
        // Needs libvirtd with QEMU: tests/test.sh starts it and sets the variable; a bare `dotnet test` skips.
        var uri = Environment.GetEnvironmentVariable("HYPERVISORS_AGENT_CRASH_LIBVIRT_URI");
        if (string.IsNullOrEmpty(uri))
        {
            Assert.Skip("Set HYPERVISORS_AGENT_CRASH_LIBVIRT_URI (e.g. qemu:///system) to run the crash test against libvirtd.");
        }

        return RunAsync(CrashTarget.Libvirt(uri));
    }

    [Fact]
    public async Task Killing_the_agent_during_power_and_device_operations_on_libvirtd_loses_nothing_and_repeats_nothing()
    {
        var uri = Environment.GetEnvironmentVariable("HYPERVISORS_AGENT_CRASH_LIBVIRT_URI");
        if (string.IsNullOrEmpty(uri))
        {
            Assert.Skip("Set HYPERVISORS_AGENT_CRASH_LIBVIRT_URI (e.g. qemu:///system) to run the crash test against libvirtd.");
        }

        await RunPowerAndDevicesAsync(CrashTarget.Libvirt(uri));
    }

    /// <summary>
    /// Each instance gets a fixed sequence of power and device operations, each with its own idempotency key; the
    /// agent is killed once some have finished and the rest are queued or running. After the restart every
    /// operation is submitted again with its key, in order: each must end Succeeded, once, and the instances must
    /// end in the state the whole sequence leads to.
    /// </summary>
    private static async Task RunPowerAndDevicesAsync(CrashTarget target)
    {
        const int instances = 6;
        var ct = TestContext.Current.CancellationToken;
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-crash-power-").FullName;
        var runTag = Guid.NewGuid().ToString("N")[..8];
        var volumeDirectory = target.VolumeDirectory!;
        Directory.CreateDirectory(volumeDirectory);
        var ids = Enumerable.Range(0, instances).Select(_ => Guid.NewGuid()).ToList();
        var volumes = ids.Select(id => Path.Combine(volumeDirectory, $"crash-{runTag}-{id:N}.img")).ToList();
        foreach (var volume in volumes)
        {
            await using var file = File.Create(volume);
            file.SetLength(1024 * 1024);
        }

        string[] steps = ["attach-volume", "start", "pause", "unpause", "stop", "detach-volume", "start", "stop"];
        Task<OperationResource> Submit(AgentClient client, int instance, int step, TimeSpan? wait)
        {
            var id = ids[instance];
            var key = $"crash-{runTag}-{instance}-{step}";
            return steps[step] switch
            {
                "attach-volume" => client.AttachVolumeAsync(target.Driver, id, new VolumeSpec("data", volumes[instance]), wait, key, ct),
                "detach-volume" => client.DetachVolumeAsync(target.Driver, id, "data", wait, key, ct),
                "stop" => client.RunActionAsync(target.Driver, id, "stop", wait, TimeSpan.Zero, idempotencyKey: key, cancellationToken: ct),
                var action => client.RunActionAsync(target.Driver, id, action, wait, idempotencyKey: key, cancellationToken: ct),
            };
        }

        try
        {
            int finishedBeforeKill;
            await using (var first = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient { BaseAddress = first.BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
                var client = new AgentClient(http);
                await Task.WhenAll(ids.Select((id, i) => client.CreateInstanceAsync(target.Driver, id,
                    new CreateInstanceRequest { Name = $"crashp-{runTag}-{i}", VCpus = 1, MemoryMiB = 64 }, TimeSpan.FromSeconds(120), ct)));

                var submitting = Task.WhenAll(Enumerable.Range(0, instances).Select(async i =>
                {
                    for (var step = 0; step < steps.Length; step++)
                    {
                        try
                        {
                            await Submit(client, i, step, null);
                        }
                        catch (HttpRequestException)
                        {
                            return; // Cut off by the kill.
                        }
                    }
                }));

                // Kill once some operations have finished and others are queued or running.
                var succeeded = 0;
                for (var attempt = 0; attempt < 600 && succeeded < instances * 2; attempt++)
                {
                    succeeded = (await client.ListOperationsAsync(target.Driver, state: OperationState.Succeeded, limit: 500, cancellationToken: ct)).Items.Count(o => o.Kind != "create");
                    await Task.Delay(50, ct);
                }

                await first.KillAsync();
                await submitting;
                finishedBeforeKill = succeeded;
            }

            int unfinishedAtRestart;
            await using (var journal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), JournalDurability.Normal))
            {
                unfinishedAtRestart = journal.ListUnfinished().Count;
            }

            Assert.True(unfinishedAtRestart + finishedBeforeKill > 0);
            await using (var second = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient { BaseAddress = second.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
                var client = new AgentClient(http);
                var finals = await Task.WhenAll(Enumerable.Range(0, instances).Select(async i =>
                {
                    var results = new List<OperationResource>();
                    for (var step = 0; step < steps.Length; step++)
                    {
                        results.Add(await client.WaitForOperationAsync(await Submit(client, i, step, TimeSpan.FromSeconds(60)), ct));
                    }

                    return results;
                }));

                Assert.All(finals.SelectMany(f => f), operation => Assert.True(operation.State == OperationState.Succeeded, $"{operation.Kind} {operation.InstanceId}: {operation.Error?.Detail}"));
                var all = (await client.ListOperationsAsync(target.Driver, limit: 500, cancellationToken: ct)).Items.Where(o => ids.Contains(o.InstanceId)).ToList();
                Assert.Equal(instances * (steps.Length + 1), all.Count);
                foreach (var id in ids)
                {
                    Assert.Equal(PowerState.Shutdown, (await client.GetInstanceAsync(target.Driver, id, ct)).PowerState);
                    Assert.Empty((await client.GetDevicesAsync(target.Driver, id, ct)).Volumes);
                }

                var deletes = await Task.WhenAll(ids.Select(id => client.DeleteInstanceAsync(target.Driver, id, TimeSpan.FromSeconds(60), cancellationToken: ct)));
                Assert.All(deletes, delete => Assert.Equal(OperationState.Succeeded, delete.State));
                TestContext.Current.TestOutputHelper?.WriteLine(
                    $"power/device crash test on {target.Description}: {finishedBeforeKill} operations finished before the kill, {unfinishedAtRestart} unfinished at restart, {all.Count} operations, all succeeded once");
            }
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
            foreach (var volume in volumes)
            {
                File.Delete(volume);
            }
        }
    }

    private static async Task RunAsync(CrashTarget target)
    {
        var ct = TestContext.Current.CancellationToken;
        var dataDirectory = Directory.CreateTempSubdirectory("hv-agent-crash-").FullName;
        var runTag = Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, Count).Select(_ => Guid.NewGuid()).ToList();
        CreateInstanceRequest SpecFor(int i) => new()
        {
            Name = $"crash-{runTag}-{i:D3}",
            VCpus = 1,
            MemoryMiB = 64,
            Metadata = new Dictionary<string, string> { ["crash-run"] = runTag },
        };

        try
        {
            int answeredBeforeKill;
            await using (var first = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = first.BaseAddress };
                var client = new AgentClient(http);
                var answered = 0;
                var killAfter = Count / 4;
                var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var creates = ids.Select(async (id, i) =>
                {
                    try
                    {
                        await client.CreateInstanceAsync(target.Driver, id, SpecFor(i), cancellationToken: ct);
                        if (Interlocked.Increment(ref answered) == killAfter)
                        {
                            killed.TrySetResult();
                        }
                    }
                    catch (HttpRequestException)
                    {
                        // Cut off by the kill: the client does not know whether the agent journaled it.
                    }
                }).ToList();

                await killed.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
                await first.KillAsync();
                await Task.WhenAll(creates);
                answeredBeforeKill = Volatile.Read(ref answered);
            }

            Assert.True(answeredBeforeKill < Count, "the kill came after every create was answered");
            int unfinishedAtRestart;
            await using (var journal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), JournalDurability.Normal))
            {
                unfinishedAtRestart = journal.ListUnfinished().Count;
            }

            await using (var second = await AgentProcess.StartAsync(dataDirectory, target.Settings, ct))
            {
                using var http = new HttpClient { BaseAddress = second.BaseAddress, Timeout = TimeSpan.FromMinutes(3) };
                var client = new AgentClient(http);
                var finals = await Task.WhenAll(ids.Select(async (id, i) =>
                {
                    var operation = await client.CreateInstanceAsync(target.Driver, id, SpecFor(i), TimeSpan.FromSeconds(60), ct);
                    return await client.WaitForOperationAsync(operation, ct);
                }));

                Assert.All(finals, operation => Assert.True(operation.State == OperationState.Succeeded, $"{operation.InstanceId}: {operation.Error?.Detail}"));
                var ours = (await client.ListInstancesAsync(target.Driver, ct))
                    .Where(instance => instance.Metadata.TryGetValue("crash-run", out var tag) && tag == runTag)
                    .ToList();
                Assert.Equal(Count, ours.Count);
                Assert.Equal(ids.ToHashSet(), ours.Select(instance => instance.Id).ToHashSet());
                Assert.Equal(Count, ours.Select(instance => instance.Name).Distinct().Count());

                if (target.CleanUp)
                {
                    var deletes = await Task.WhenAll(ids.Select(id => client.DeleteInstanceAsync(target.Driver, id, TimeSpan.FromSeconds(60), cancellationToken: ct)));
                    Assert.All(deletes, delete => Assert.Equal(OperationState.Succeeded, delete.State));
                }
            }

            await using var finalJournal = new OperationJournal(Path.Combine(dataDirectory, "journal.db"), JournalDurability.Normal);
            var states = finalJournal.CountByState();
            Assert.False(states.ContainsKey(OperationState.Pending), $"pending operations left: {states.GetValueOrDefault(OperationState.Pending)}");
            Assert.False(states.ContainsKey(OperationState.Failed));
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"crash test on {target.Description}: {answeredBeforeKill} creates answered before the kill, {unfinishedAtRestart} journaled but unfinished at restart, {states.GetValueOrDefault(OperationState.Succeeded)} operations succeeded in all");
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}

/// <summary>The hypervisor the crash test runs against.</summary>
internal sealed record CrashTarget(string Driver, IReadOnlyDictionary<string, string> Settings, bool CleanUp, string Description, string? VolumeDirectory = null)
{
    /// <summary>The in-memory fake: its state dies with the process, so repeats of finished creates re-create.</summary>
    public static CrashTarget Fake { get; } = new("local", new Dictionary<string, string>(), CleanUp: false, "the in-memory fake");

    /// <summary>libvirtd with QEMU: creates only define domains (software emulation, never started).</summary>
    public static CrashTarget Libvirt(string uri) => new(
        "kvm",
        new Dictionary<string, string>
        {
            ["Agent:Drivers:kvm:Kind"] = "libvirt",
            ["Agent:Drivers:kvm:Uri"] = uri,
            ["Agent:Drivers:kvm:DomainType"] = "qemu",
            ["Agent:Drivers:kvm:InstanceDirectory"] = Path.Combine(Path.GetTempPath(), "hv-agent-crash-instances"),
            ["Agent:Drivers:kvm:AllowedHostDirectories:0"] = Path.Combine(Path.GetTempPath(), "hv-agent-crash-volumes"),
        },
        CleanUp: true,
        $"libvirtd ({uri})",
        Path.Combine(Path.GetTempPath(), "hv-agent-crash-volumes"));
}
